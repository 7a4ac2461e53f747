"""The public directory (no login): search, service pages and the published exports."""

from django.urls import path

from referloop.directory import views

app_name = "public"
urlpatterns = [
    path("", views.public_search, name="search"),
    path("services/<uuid:hsds_id>/", views.public_service, name="service"),
]
