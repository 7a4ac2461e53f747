from django.contrib import admin

from referloop.fhir.models import ReceivedIdentifier, ReceivedReferral


class ReceivedIdentifierInline(admin.TabularInline):
    model = ReceivedIdentifier
    extra = 0
    fields = ("system", "value")
    readonly_fields = fields
    can_delete = False


@admin.register(ReceivedReferral)
class ReceivedReferralAdmin(admin.ModelAdmin):
    """What arrived as FHIR, for support: read only (the inbound referral is the record)."""

    list_display = ("inbound", "agency", "sender_request_id", "sender_task_id", "received_at")
    raw_id_fields = ("inbound", "consent")
    exclude = ("service_request", "task")  # may name the person: read in the app (audited)
    readonly_fields = ("agency", "inbound", "sender_request_id", "sender_task_id", "consent")
    inlines = [ReceivedIdentifierInline]

    def has_add_permission(self, request):
        return False
