"""/fhir/: the FHIR REST surface (FHIR's own paths: no trailing slashes). The transaction
endpoint is the base itself, `/fhir` (routed in referloop/urls.py) or `/fhir/`."""

from django.urls import path

from referloop.fhir import views

app_name = "fhir"
urlpatterns = [
    path("", views.transaction, name="transaction"),
    path("metadata", views.metadata, name="metadata"),
    path("Task", views.task_search, name="task_search"),
    path("Task/<str:resource_id>", views.task, name="task"),
    path("ServiceRequest/<str:resource_id>", views.service_request, name="service_request"),
]
