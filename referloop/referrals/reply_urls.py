"""The partner's one-question reply page, at the stable address /r/<token> (no login)."""

from django.urls import path

from referloop.referrals import views_reply

urlpatterns = [path("<str:token>", views_reply.reply, name="reply")]
