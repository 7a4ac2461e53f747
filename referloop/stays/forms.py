from django import forms

from referloop.clients.forms import NoNulCharField
from referloop.partners.models import KeyContact, Relationship
from referloop.stays.models import Application, DischargeReason, UpdateKind

DATE = forms.DateInput(attrs={"type": "date"})


class SourceForm(forms.Form):
    """Who referred the person: one of the agency's partner organizations, a person there."""

    source_organization = forms.TypedChoiceField(label="Referred by", coerce=int)
    source_contact = forms.TypedChoiceField(
        label="Referring person", coerce=int, required=False, empty_value=None
    )
    note = NoNulCharField(
        label="What they told us",
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        partners = (
            Relationship.objects.for_agency(agency)
            .select_related("organization")
            .order_by("organization__name")
        )
        self.fields["source_organization"].choices = [("", "Choose a partner")] + [
            (r.organization_id, r.organization.name) for r in partners
        ]
        people = (
            KeyContact.objects.for_agency(agency)
            .select_related("contact", "relationship__organization")
            .order_by("contact__name")
        )
        self.fields["source_contact"].choices = [("", "Nobody in particular")] + [
            (key.contact_id, f"{key.contact.name} ({key.relationship.organization.name})")
            for key in people
        ]


class InboundForm(SourceForm):
    referred_on = forms.DateField(label="Referred on", widget=DATE)


class ApplicationForm(forms.Form):
    status = forms.ChoiceField(
        label="Application",
        choices=[(value, label) for value, label in Application.choices if value != "new"],
    )
    reason = NoNulCharField(label="Reason (needed for a denial)", max_length=500, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)


class MoveInForm(forms.Form):
    move_in_on = forms.DateField(label="Move-in date", widget=DATE)
    sobriety_on = forms.DateField(label="Sobriety date", widget=DATE, required=False)
    house = NoNulCharField(label="House or program", max_length=200, required=False)


class StayForm(forms.Form):
    sobriety_on = forms.DateField(label="Sobriety date", widget=DATE, required=False)
    house = NoNulCharField(label="House or program", max_length=200, required=False)
    tell_source_of_discharge = forms.BooleanField(
        label="Tell the referral source when the stay ends (if appropriate for this client)",
        required=False,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class DischargeForm(forms.Form):
    discharge_on = forms.DateField(label="Discharge date", widget=DATE)
    reason = forms.ChoiceField(label="Why the stay ended", choices=DischargeReason.choices)
    note = NoNulCharField(label="Note", max_length=500, required=False)


class UpdateForm(forms.Form):
    to = forms.EmailField(label="To", max_length=254)
    subject = NoNulCharField(label="Subject", max_length=200)
    body = NoNulCharField(
        label="Message", max_length=8000, widget=forms.Textarea(attrs={"rows": 10})
    )


class SkipForm(forms.Form):
    reason = NoNulCharField(label="Why not send it", max_length=500)


class TemplateForm(forms.Form):
    kind = forms.ChoiceField(choices=UpdateKind.choices, widget=forms.HiddenInput)
    subject = NoNulCharField(label="Subject", max_length=200)
    body = NoNulCharField(
        label="Message", max_length=8000, widget=forms.Textarea(attrs={"rows": 8})
    )


class ReferSomeoneForm(forms.Form):
    """The public "refer someone to us" page."""

    source_name = NoNulCharField(label="Your name", max_length=200)
    source_organization_name = NoNulCharField(label="Your organization", max_length=200)
    source_email = NoNulCharField(label="Your e-mail address", max_length=254)
    source_phone = NoNulCharField(label="Your phone (optional)", max_length=50, required=False)
    person_name = NoNulCharField(label="The person's name", max_length=200)
    person_contact = NoNulCharField(
        label="How to reach them, and when it is safe to (optional)",
        max_length=500,
        required=False,
    )
    note = NoNulCharField(
        label="What they need (no diagnoses: we will ask them)",
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    # Left empty by people; bots fill every field.
    website = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"})
    )
