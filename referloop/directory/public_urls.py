"""The public directory (no login): search, service pages and the published exports."""

from django.urls import path

from referloop.directory import views, views_publish

app_name = "public"
urlpatterns = [
    path("", views.public_search, name="search"),
    path("services/<uuid:hsds_id>/", views.public_service, name="service"),
    path("export/services.<str:fmt>", views_publish.published_export, name="export"),
]
