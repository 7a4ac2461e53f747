from django.urls import path

from referloop.core import views, views_outbox

app_name = "core"
urlpatterns = [
    path("agency/switch/", views.agency_switch, name="agency_switch"),
    path("settings/agency/", views.agency_settings, name="agency_settings"),
    path("settings/members/", views.member_list, name="member_list"),
    path("settings/members/<int:pk>/", views.member_edit, name="member_edit"),
    path("settings/audit/", views.audit_log, name="audit_log"),
    path("settings/outbox/", views_outbox.outbox, name="outbox"),
    path("settings/outbox/<int:pk>/", views_outbox.outbox_detail, name="outbox_detail"),
    path(
        "settings/outbox/<int:pk>/retry/",
        views_outbox.outbox_message_retry,
        name="outbox_retry",
    ),
    path(
        "settings/outbox/<int:pk>/cancel/",
        views_outbox.outbox_message_cancel,
        name="outbox_cancel",
    ),
]
