from django.urls import path

from referloop.directory import views

app_name = "directory"
urlpatterns = [
    path("", views.search, name="search"),
    path("new/", views.listing_create, name="listing_create"),
    path("<int:pk>/", views.service_detail, name="service_detail"),
    path("<int:pk>/capacity/", views.capacity_update, name="capacity_update"),
    path("<int:pk>/edit/", views.listing_edit, name="listing_edit"),
    path("<int:pk>/verify/", views.listing_verify, name="listing_verify"),
]
