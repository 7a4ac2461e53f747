from django import forms
from django.utils import timezone

from referloop.clients.forms import NoNulCharField
from referloop.core.models import Membership
from referloop.core.timeutils import agency_now, agency_today
from referloop.directory.models import Organization
from referloop.partners.models import InteractionKind, MaterialKind, Stage, Tier

# What the quick log form offers first: the everyday touches (the rest are for their own pages).
LOG_KINDS = [
    (kind.value, kind.label)
    for kind in InteractionKind
    if kind not in (InteractionKind.PRINT_MEDIA, InteractionKind.AVAILABILITY_EMAIL)
]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]


class InteractionForm(forms.Form):
    """The quick log: type (a call), when (today), who, what, the next step. Enter submits."""

    kind = forms.ChoiceField(label="Type", choices=LOG_KINDS, initial=InteractionKind.CALL)
    occurred_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    people = forms.TypedMultipleChoiceField(
        label="People", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    summary = NoNulCharField(
        label="Summary",
        max_length=4000,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "What was said"}),
    )
    next_step = NoNulCharField(label="Next step", max_length=500, required=False)
    next_step_on = forms.DateField(
        label="Next step on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    referral = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, relationship, **kwargs):
        super().__init__(*args, **kwargs)
        self.relationship = relationship
        self.fields["occurred_on"].initial = agency_today(relationship.agency)
        keys = relationship.key_contacts.select_related("contact") if relationship.pk else []
        self.fields["people"].choices = [
            (key.contact_id, key.contact.name or key.contact.email)
            for key in sorted(keys, key=lambda key: key.contact.name)
        ]
        if len(self.fields["people"].choices) == 1:
            self.fields["people"].initial = [self.fields["people"].choices[0][0]]

    def occurred_at(self):
        """Today's log is now; an earlier day's is noon of that day (agency time)."""
        day = self.cleaned_data["occurred_on"]
        agency = self.relationship.agency
        now = agency_now(agency)
        if day == now.date():
            return timezone.now()
        return now.replace(
            year=day.year, month=day.month, day=day.day, hour=12, minute=0, second=0, microsecond=0
        )

    def clean_occurred_on(self):
        day = self.cleaned_data["occurred_on"]
        if day > agency_today(self.relationship.agency):
            raise forms.ValidationError("Log an interaction once it happened: not a future date.")
        return day


class RelationshipForm(forms.Form):
    owner = forms.TypedChoiceField(label="Owner", coerce=int, required=False, empty_value=None)
    tier = forms.ChoiceField(label="Tier (set by hand)", choices=Tier.choices)
    considers = NoNulCharField(
        label="What they consider when referring",
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    mutual_benefits = NoNulCharField(
        label="Mutual benefits agreed",
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        members = Membership.objects.filter(agency=agency, is_active=True).select_related("user")
        self.fields["owner"].choices = [("", "Nobody (the whole agency)")] + [
            (member.user_id, member.user.get_full_name() or member.user.email)
            for member in members.order_by("user__full_name", "user__email")
        ]


class StageForm(forms.Form):
    stage = forms.ChoiceField(label="Stage", choices=Stage.choices)
    reason = NoNulCharField(label="Reason (needed for “not a fit”)", max_length=500, required=False)
    note = NoNulCharField(label="Note", max_length=500, required=False)


class ContactForm(forms.Form):
    name = NoNulCharField(label="Name", max_length=200)
    title = NoNulCharField(label="Title", max_length=200, required=False)
    email = NoNulCharField(label="E-mail", max_length=254, required=False)
    other_emails = NoNulCharField(
        label="Other e-mail addresses (one per line)",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    phones = NoNulCharField(
        label="Phone numbers (one per line)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def other_email_list(self) -> list[str]:
        return _lines(self.cleaned_data["other_emails"])

    def phone_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["phones"].splitlines() if line.strip()]


def organization_named(agency, name: str) -> Organization:
    """The directory organization of the agency's network with this name (any case)."""
    matches = list(
        Organization.objects.filter(network_id=agency.network_id, name__iexact=name.strip())[:2]
    )
    if len(matches) != 1:
        raise forms.ValidationError(
            f"'{name}' is not an organization in your network's directory"
            + (" (more than one has that name)" if matches else ": add it to the directory first")
            + "."
        )
    return matches[0]


class MoveForm(forms.Form):
    organization = NoNulCharField(
        label="New organization (as named in the directory)", max_length=300
    )
    title = NoNulCharField(label="New title", max_length=200, required=False)
    on = forms.DateField(label="Since", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency = agency
        self.fields["on"].initial = agency_today(agency)

    def clean_organization(self):
        return organization_named(self.agency, self.cleaned_data["organization"])


class PartnerSearchForm(forms.Form):
    q = NoNulCharField(label="Organization", max_length=200, required=False)


class MaterialForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", help_text="e.g. Spring rack card")
    kind = forms.ChoiceField(choices=MaterialKind.choices, label="Type")
    on_hand = forms.IntegerField(
        min_value=0, max_value=1_000_000, label="On hand", help_text="How many are on the shelf"
    )
    is_welcome_packet = forms.BooleanField(
        required=False,
        label="This is the welcome packet (sending it clears a 'send the welcome packet' item)",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="In use")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if "\x00" in name:
            raise forms.ValidationError("Contains a character that is not allowed.")
        return name

    @staticmethod
    def initial_for(material) -> dict:
        return {name: getattr(material, name) for name in MaterialForm.base_fields}
