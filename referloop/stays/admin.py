from django.contrib import admin

from referloop.stays.models import InboundReferral, Stay, UpdateOwed, UpdateTemplate


@admin.register(InboundReferral)
class InboundReferralAdmin(admin.ModelAdmin):
    list_display = (
        "tracking_id",
        "agency",
        "origin",
        "status",
        "source_organization",
        "referred_at",
    )
    list_filter = ("status", "origin")
    search_fields = ("tracking_id",)
    raw_id_fields = ("client", "source_organization", "source_contact", "network_referral", "owner")
    exclude = ("person_name", "person_contact", "note")  # identifying: read in the app (audited)


@admin.register(Stay)
class StayAdmin(admin.ModelAdmin):
    list_display = ("pk", "agency", "house", "move_in_on", "discharge_on", "discharge_reason")
    list_filter = ("discharge_reason",)
    raw_id_fields = ("client", "inbound", "created_by")


@admin.register(UpdateOwed)
class UpdateOwedAdmin(admin.ModelAdmin):
    list_display = ("pk", "agency", "kind", "days", "due_at", "is_urgent", "state")
    list_filter = ("kind", "state", "is_urgent")
    raw_id_fields = ("inbound", "stay", "settled_by", "interaction")
    exclude = ("message",)


@admin.register(UpdateTemplate)
class UpdateTemplateAdmin(admin.ModelAdmin):
    list_display = ("agency", "kind", "subject", "updated_at")
