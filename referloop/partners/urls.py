from django.urls import path

from referloop.partners import meeting_views, views, views_unsubscribe

app_name = "partners"

urlpatterns = [
    path("", views.partner_list, name="list"),
    path("board/", views.partner_board, name="board"),
    path("add/", views.partner_add, name="add"),
    path("people/", views.people, name="people"),
    path("people/merge/", views.contact_merge, name="contact_merge"),
    path("people/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("people/<int:pk>/move/", views.contact_move, name="contact_move"),
    path("owed/<int:pk>/done/", views.key_contact_done, name="key_contact_done"),
    path("referral/<int:pk>/log/", views.referral_log, name="referral_log"),
    path("<int:pk>/", views.partner_detail, name="detail"),
    path("<int:pk>/edit/", views.partner_edit, name="edit"),
    path("<int:pk>/stage/", views.partner_stage, name="stage"),
    path("<int:pk>/log/", views.log_form, name="log_form"),
    path("<int:pk>/people/add/", views.contact_add, name="contact_add"),
    path("meetings/", meeting_views.meeting_list, name="meeting_list"),
    path("meetings/new/", meeting_views.meeting_create, name="meeting_create"),
    path("meetings/<int:pk>/", meeting_views.meeting_detail, name="meeting_detail"),
    path("meetings/<int:pk>/edit/", meeting_views.meeting_edit, name="meeting_edit"),
    path("meetings/<int:pk>/cancel/", meeting_views.meeting_cancel, name="meeting_cancel"),
    path("meetings/<int:pk>/reply/", meeting_views.meeting_reply_upload, name="meeting_reply"),
    path("meetings/<int:pk>/invite.ics", meeting_views.meeting_invite, name="meeting_invite"),
    path("materials/", views.materials, name="materials"),
    path("materials/new/", views.material_create, name="material_create"),
    path("materials/<int:pk>/edit/", views.material_edit, name="material_edit"),
    path("availability/", views.availability, name="availability"),
    path("availability/send/", views.availability_send, name="availability_send"),
    path("availability/list/", views.availability_opt_ins, name="availability_opt_ins"),
    # Public: the link in the e-mail, no login (the token is the key).
    path("unsubscribe/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
]
