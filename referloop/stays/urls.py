from django.urls import path

from referloop.stays import views

app_name = "stays"

urlpatterns = [
    path("", views.residents, name="residents"),
    path("inbound/", views.inbound_list, name="inbound_list"),
    path("inbound/new/", views.inbound_create, name="inbound_create"),
    path("inbound/<int:pk>/", views.inbound_detail, name="inbound_detail"),
    path("inbound/<int:pk>/review/", views.inbound_review, name="inbound_review"),
    path("inbound/<int:pk>/application/", views.application, name="application"),
    path("inbound/<int:pk>/move-in/", views.move_in, name="move_in"),
    path("move-in/", views.move_in_client, name="move_in_client"),
    path("<int:pk>/", views.stay_detail, name="stay_detail"),
    path("<int:pk>/edit/", views.stay_edit, name="stay_edit"),
    path("<int:pk>/discharge/", views.discharge, name="discharge"),
    path("updates/<int:pk>/", views.update, name="update"),
    path("updates/<int:pk>/send/", views.update_send, name="update_send"),
    path("updates/<int:pk>/skip/", views.update_skip, name="update_skip"),
    path("templates/", views.templates, name="templates"),
]
