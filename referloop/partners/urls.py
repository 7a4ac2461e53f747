from django.urls import path

from referloop.partners import meeting_views, views

app_name = "partners"

urlpatterns = [
    path("", views.partner_list, name="list"),
    path("meetings/", meeting_views.meeting_list, name="meeting_list"),
    path("meetings/new/", meeting_views.meeting_create, name="meeting_create"),
    path("meetings/<int:pk>/", meeting_views.meeting_detail, name="meeting_detail"),
    path("meetings/<int:pk>/edit/", meeting_views.meeting_edit, name="meeting_edit"),
    path("meetings/<int:pk>/cancel/", meeting_views.meeting_cancel, name="meeting_cancel"),
    path("meetings/<int:pk>/reply/", meeting_views.meeting_reply_upload, name="meeting_reply"),
    path("meetings/<int:pk>/invite.ics", meeting_views.meeting_invite, name="meeting_invite"),
]
