from django.urls import path

from referloop.reports import views, views_community

app_name = "reports"

urlpatterns = [
    path("", views.metrics_page, name="index"),
    path("referrals/", views.metric_referrals, name="referrals"),
    path("partners/", views.partner_scorecards, name="scorecards"),
    path("week/", views.weekly_review, name="review"),
    path("community/", views_community.community_page, name="community"),
    path("community/publish/", views_community.community_publish_view, name="community_publish"),
]
