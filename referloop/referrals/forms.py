from django import forms

from referloop.clients.forms import NoNulCharField
from referloop.clients.models import Category
from referloop.core.models import Membership
from referloop.referrals.models import OPEN, Status, Urgency
from referloop.referrals.services import Answer

FOLLOW_UP_CHANNELS = [
    ("call", "Call"),
    ("email", "E-mail"),
    ("visit", "Visit"),
    ("text", "Text"),
    ("other", "Other"),
]


def _members(agency):
    return (
        Membership.objects.for_agency(agency)
        .filter(is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


class ReferralForm(forms.Form):
    """The referral itself, once client and receiving service are chosen."""

    contact_name = NoNulCharField(max_length=200, required=False, label="Contact at the partner")
    contact_email = forms.EmailField(
        max_length=254,
        required=False,
        label="Contact's e-mail",
        help_text="Where the referral and its one-question reply link go "
        "(not needed when the partner uses Referloop).",
    )
    contact_phone = NoNulCharField(max_length=50, required=False, label="Contact's phone")
    needs = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Needs"
    )
    reason = NoNulCharField(
        max_length=4000,
        required=False,
        label="Reason for referral",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Only what the partner needs to act; it goes in the packet if the consent "
        "covers the reason for referral.",
    )
    urgency = forms.ChoiceField(choices=Urgency.choices, initial=Urgency.ROUTINE)
    owner = forms.ChoiceField(label="Owner (follows up until the loop is closed)")
    consent = forms.ChoiceField(required=False, label="Consent that covers this referral")
    categories = forms.MultipleChoiceField(
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Category.IDENTITY, Category.CONTACT, Category.REASON],
        label="Information to share (must be covered by the consent)",
    )

    def __init__(self, *args, agency, consents, need_terms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [(str(m.user_id), str(m.user)) for m in _members(agency)]
        self.fields["consent"].choices = [("", "— none yet —")] + [
            (str(c.pk), f"#{c.pk}: {c.recipient_label} — {', '.join(c.category_labels)}")
            for c in consents
        ]
        self.consents = {str(c.pk): c for c in consents}
        self.fields["needs"].choices = [(term.code, term.name) for term in need_terms]
        self.need_terms = {term.code: term for term in need_terms}

    def clean_consent(self):
        value = self.cleaned_data["consent"]
        return self.consents.get(value) if value else None


class SendForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class TransitionForm(forms.Form):
    """Records a status change (what the partner said, or the sender's own decision)."""

    status = forms.ChoiceField(label="New status")
    disposition = forms.ChoiceField(required=False, label="Outcome or reason code")
    reason = NoNulCharField(max_length=500, required=False, label="Reason")
    note = NoNulCharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, allowed, dispositions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, Status(s).label) for s in allowed]
        self.fields["disposition"].choices = [("", "—")] + [(d.code, d.label) for d in dispositions]


class AnswerForm(forms.Form):
    """The receiving agency's (or the owner's) record of the partner's answer."""

    answer = forms.ChoiceField(choices=Answer.CHOICES, widget=forms.RadioSelect)
    disposition = forms.ChoiceField(required=False, label="If not accepted: why?")
    note = NoNulCharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, not_accepted_codes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["disposition"].choices = [("", "—")] + [
            (d.code, d.label) for d in not_accepted_codes
        ]


class FollowUpForm(forms.Form):
    channel = forms.ChoiceField(choices=FOLLOW_UP_CHANNELS, initial="call", label="How")
    note = NoNulCharField(
        max_length=4000,
        required=False,
        label="What was said",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class NoteForm(forms.Form):
    note = NoNulCharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class ReassignForm(forms.Form):
    owner = forms.ChoiceField(label="New owner")
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [(str(m.user_id), str(m.user)) for m in _members(agency)]


class BounceResolveForm(forms.Form):
    note = NoNulCharField(max_length=4000, label="Why no new referral is needed")


class ReferralFilterForm(forms.Form):
    DIRECTIONS = [("outbound", "Sent by us"), ("inbound", "Sent to us")]
    SORTS = [("-created", "Newest"), ("created", "Oldest"), ("due", "Next due")]

    direction = forms.ChoiceField(choices=DIRECTIONS, required=False)
    status = forms.MultipleChoiceField(choices=Status.choices, required=False)
    owner = forms.CharField(max_length=20, required=False)  # "me" or a user id
    partner = forms.IntegerField(required=False, min_value=1)
    overdue = forms.BooleanField(required=False)
    open = forms.BooleanField(required=False, label="Open only")
    sort = forms.ChoiceField(choices=SORTS, required=False)
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "XLSX")], required=False)

    def clean_owner(self):
        owner = self.cleaned_data["owner"].strip()
        if owner and owner != "me" and not owner.isdigit():
            raise forms.ValidationError("Use “me” or a user id.")
        return owner


OPEN_STATUSES = sorted(OPEN)
