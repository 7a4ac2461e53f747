from django.urls import path

from referloop.partners import views, views_unsubscribe

app_name = "partners"

urlpatterns = [
    path("", views.partner_list, name="list"),
    path("materials/", views.materials, name="materials"),
    path("materials/new/", views.material_create, name="material_create"),
    path("materials/<int:pk>/edit/", views.material_edit, name="material_edit"),
    path("availability/", views.availability, name="availability"),
    path("availability/send/", views.availability_send, name="availability_send"),
    path("availability/list/", views.availability_opt_ins, name="availability_opt_ins"),
    # Public: the link in the e-mail, no login (the token is the key).
    path("unsubscribe/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
]
