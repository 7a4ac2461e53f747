from django.urls import path

from referloop.intake import views

app_name = "intake"

urlpatterns = [
    path("", views.inquiry_list, name="index"),
    path("new/", views.inquiry_create, name="create"),
    path("decide/", views.inquiry_decide, name="decide"),
    path("rules/", views.rules_page, name="rules"),
    path("rotation/", views.rotation, name="rotation"),
    path("<int:pk>/", views.inquiry_detail, name="detail"),
    path("<int:pk>/owner/", views.inquiry_assign, name="assign"),
    path("<int:pk>/close/", views.inquiry_close, name="close"),
    path("<int:pk>/options/<int:option_pk>/choose/", views.option_choose, name="choose"),
    path("<int:pk>/options/<int:option_pk>/refer/", views.inquiry_refer, name="refer"),
]
