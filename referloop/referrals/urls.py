from django.urls import path

from referloop.referrals import views, views_packet, views_settings

app_name = "referrals"

urlpatterns = [
    path("", views.referral_list, name="list"),
    path("new/", views.referral_create, name="create"),
    path("codes/", views_settings.disposition_list, name="dispositions"),
    path("codes/<int:pk>/", views_settings.disposition_update, name="disposition_update"),
    path("<int:pk>/", views.referral_detail, name="detail"),
    path("<int:pk>/send/", views.referral_send, name="send"),
    path("<int:pk>/status/", views.referral_transition, name="transition"),
    path("<int:pk>/answer/", views.referral_answer, name="answer"),
    path("<int:pk>/follow-up/", views.referral_follow_up, name="follow_up"),
    path("<int:pk>/notes/", views.referral_note, name="note"),
    path("<int:pk>/owner/", views.referral_reassign, name="reassign"),
    path("<int:pk>/no-rereferral/", views.referral_bounce_resolve, name="bounce_resolve"),
    path("<int:pk>/packet/preview/", views_packet.packet_preview, name="packet_preview"),
    path("<int:pk>/packets/<int:packet_pk>/", views_packet.packet_detail, name="packet"),
    path("<int:pk>/packets/<int:packet_pk>.pdf", views_packet.packet_pdf, name="packet_pdf"),
]
