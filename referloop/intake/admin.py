from django import forms
from django.contrib import admin

from referloop.intake import rules as triage
from referloop.intake.models import Inquiry, InquiryOption, IntakeProfile, IntakeShift, TriageRule


class TriageRuleAdminForm(forms.ModelForm):
    """A rule is checked alone and within its agency's set, as the rules page checks it."""

    class Meta:
        model = TriageRule
        fields = [
            "agency",
            "position",
            "name",
            "when",
            "action",
            "parameter",
            "explanation",
            "is_active",
        ]

    def clean(self):
        data = super().clean()
        agency = data.get("agency")
        if agency is None or self.errors:
            return data
        rule = {
            key: data.get(key)
            for key in ("name", "when", "action", "parameter", "explanation", "is_active")
        }
        others = TriageRule.objects.for_agency(agency).exclude(pk=self.instance.pk)
        ordered = sorted(
            [(row.position, row.as_rule()) for row in others] + [(data.get("position") or 0, rule)],
            key=lambda pair: pair[0],
        )
        try:
            cleaned = triage.rule_clean(rule)
            triage.ruleset_clean([r for _, r in ordered])
        except triage.RuleError as error:
            raise forms.ValidationError(error.message) from None
        data.update(when=cleaned["when"], name=cleaned["name"], explanation=cleaned["explanation"])
        return data


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin):
    form = TriageRuleAdminForm
    list_display = ("agency", "position", "name", "action", "parameter", "is_active")
    list_filter = ("action", "is_active")
    search_fields = ("name",)

    def has_delete_permission(self, request, obj=None):
        # Deleting one rule could leave screenings undecided; deactivate it (checked) instead.
        return False


@admin.register(IntakeProfile)
class IntakeProfileAdmin(admin.ModelAdmin):
    list_display = ("agency", "max_severity", "court_qualified", "accepting_new", "updated_at")


@admin.register(IntakeShift)
class IntakeShiftAdmin(admin.ModelAdmin):
    list_display = ("agency", "user", "weekday", "starts_at", "ends_at")
    raw_id_fields = ("user",)


@admin.register(Inquiry)
class InquiryAdmin(admin.ModelAdmin):
    list_display = ("pk", "agency", "received_at", "outcome", "status", "urgent", "owner")
    list_filter = ("outcome", "status", "urgent")
    raw_id_fields = ("owner", "client", "created_by")
    # Identifying and clinical answers are read in the app, where reading is audited.
    fields = ("agency", "owner", "received_at", "channel", "outcome", "status", "urgent", "fired")
    readonly_fields = fields


@admin.register(InquiryOption)
class InquiryOptionAdmin(admin.ModelAdmin):
    list_display = ("inquiry", "position", "need", "service_name", "chosen_at", "referral")
    raw_id_fields = ("inquiry", "service", "organization", "referral")
