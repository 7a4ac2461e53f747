from django.urls import path

from referloop.worklist import views

app_name = "worklist"
urlpatterns = [
    path("", views.index, name="index"),
    path("badge/", views.badge, name="badge"),
]
