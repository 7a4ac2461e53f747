"""Installation staff see referral bookkeeping (status, due times, codes), never client details:
the client column is not listed, and changes go through the agency's own pages."""

from django.contrib import admin

from referloop.referrals.models import DispositionCode, Referral


@admin.register(DispositionCode)
class DispositionCodeAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "kind", "agency", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "label", "agency__name"]
    list_select_related = ["agency"]


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["tracking_id", "agency", "status", "next_due_at", "due_reason", "created_at"]
    list_filter = ["status", "due_reason"]
    search_fields = ["tracking_id"]
    list_select_related = ["agency"]
    fields = [
        "tracking_id",
        "agency",
        "receiving_agency",
        "status",
        "disposition",
        "next_due_at",
        "due_reason",
        "sent_at",
        "received_at",
        "outcome_at",
        "closed_at",
        "version",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
