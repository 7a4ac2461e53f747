from django.contrib import admin
from django.urls import include, path

from referloop.api.api import api
from referloop.core import views as core_views
from referloop.fhir import views as fhir_views
from referloop.reports import views_community
from referloop.stays import views_public as stays_public

admin.site.site_header = "Referloop installation admin"
admin.site.site_title = "Referloop admin"

handler404 = core_views.not_found

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("login/", core_views.login_view, name="login"),
    path("logout/", core_views.logout_view, name="logout"),
    path("worklist/", include("referloop.worklist.urls")),
    path("services/", include("referloop.directory.urls")),
    path("directory/", include("referloop.directory.public_urls")),
    # The public community scorecard is the reports app's (the directory never imports reports).
    path(
        "directory/community/<slug:slug>/",
        views_community.community_public,
        name="community_public",
    ),
    path("referrals/", include("referloop.referrals.urls")),
    path("clients/", include("referloop.clients.urls")),
    path("partners/", include("referloop.partners.urls")),
    path("stays/", include("referloop.stays.urls")),
    path("intake/", include("referloop.intake.urls")),
    path("reports/", include("referloop.reports.urls")),
    path("refer/<slug:slug>/", stays_public.refer_someone, name="refer_someone"),
    path("r/", include("referloop.referrals.reply_urls")),
    path("", include("referloop.core.urls")),
    path("api/v1/", api.urls),
    path("fhir", fhir_views.transaction, name="fhir_base"),
    path("fhir/", include("referloop.fhir.urls")),
    path(
        "referrals/<int:pk>/fhir.json",
        fhir_views.referral_bundle_download,
        name="fhir_referral_bundle",
    ),
    path("admin/", admin.site.urls),
]
