from datetime import datetime, time

from django import forms
from django.utils import timezone

from referloop.clients.models import Category, RecipientClass, Signer
from referloop.clients.services import ClientData, ConsentData
from referloop.core.errors import DomainError
from referloop.directory.models import Organization


class NoNulCharField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value and "\x00" in value:
            raise forms.ValidationError("Contains a character that is not allowed.")
        return value


class ClientForm(forms.Form):
    first_name = NoNulCharField(max_length=100)
    last_name = NoNulCharField(max_length=100)
    preferred_name = NoNulCharField(max_length=100, required=False)
    date_of_birth = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="YYYY-MM-DD"
    )
    phone = NoNulCharField(max_length=50, required=False)
    email = forms.EmailField(max_length=254, required=False)
    address = NoNulCharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    preferred_language = NoNulCharField(max_length=60, required=False)
    # Safe-contact rules
    do_not_contact = forms.BooleanField(required=False, label="Do not contact the client at all")
    voicemail_ok = forms.BooleanField(required=False, label="May leave voicemail")
    text_ok = forms.BooleanField(required=False, label="May text")
    email_ok = forms.BooleanField(required=False, label="May e-mail")
    safe_phone = NoNulCharField(max_length=50, required=False, label="Safe number")
    safe_email = forms.EmailField(max_length=254, required=False, label="Safe e-mail")
    safe_hours = NoNulCharField(
        max_length=120, required=False, label="Safe hours", help_text="e.g. weekdays after 6 pm"
    )
    do_not_disclose_location = forms.BooleanField(
        required=False, label="Do not disclose the client's location"
    )
    safe_contact_note = NoNulCharField(
        max_length=1000,
        required=False,
        label="Other safe-contact notes",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    allow_duplicate = forms.BooleanField(
        required=False,
        label="This is a different person from the one(s) listed above",
        widget=forms.HiddenInput,
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    SAFE_CONTACT = (
        "do_not_contact",
        "voicemail_ok",
        "text_ok",
        "email_ok",
        "safe_phone",
        "safe_email",
        "safe_hours",
        "do_not_disclose_location",
        "safe_contact_note",
    )
    IDENTITY = (
        "first_name",
        "last_name",
        "preferred_name",
        "date_of_birth",
        "phone",
        "email",
        "address",
        "preferred_language",
    )

    @classmethod
    def initial_for(cls, client) -> dict:
        initial = {name: getattr(client, name) for name in cls.IDENTITY + cls.SAFE_CONTACT}
        initial["date_of_birth"] = client.birth_date
        initial["version"] = client.version
        return initial

    def identity_fields(self):
        return [self[name] for name in self.IDENTITY]

    def safe_contact_fields(self):
        return [self[name] for name in self.SAFE_CONTACT]

    def to_data(self) -> ClientData:
        data = self.cleaned_data
        return ClientData(
            **{name: data[name] or "" for name in self.IDENTITY if name != "date_of_birth"},
            date_of_birth=data["date_of_birth"],
            safe_contact={name: data[name] for name in self.SAFE_CONTACT},
        )


class ClientSearchForm(forms.Form):
    q = NoNulCharField(max_length=200, required=False, label="Find a client by name")


class ConsentForm(forms.Form):
    organization = forms.IntegerField(required=False, widget=forms.HiddenInput)
    organization_name = NoNulCharField(
        max_length=300,
        required=False,
        label="Recipient organization",
        help_text="The organization's name as it appears in the directory.",
    )
    recipient_class = forms.ChoiceField(
        choices=[("", "— a specific organization (above) —"), *RecipientClass.choices],
        required=False,
        label="Or a class of recipients",
    )
    categories = forms.MultipleChoiceField(
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Information the client agrees to share",
    )
    purpose = NoNulCharField(max_length=300, initial="Referral for services and follow-up")
    part2 = forms.BooleanField(
        required=False,
        label="This is a 42 CFR Part 2 consent (covers substance-use information)",
    )
    signed_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Signed on")
    signed_by_name = NoNulCharField(max_length=200, label="Signed by (name)")
    signer = forms.ChoiceField(choices=Signer.choices, initial=Signer.CLIENT, label="Signer is")
    representative_authority = NoNulCharField(
        max_length=300,
        required=False,
        label="Representative's authority",
        help_text="Only when someone signs for the client (e.g. legal guardian).",
    )
    expires_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Expires on"
    )
    expiry_event = NoNulCharField(
        max_length=200,
        required=False,
        label="Or expires at an event",
        help_text="e.g. end of treatment",
    )
    no_expiry = forms.BooleanField(required=False, label="Or: no expiry")

    def __init__(self, *args, network=None, **kwargs):
        self.network = network
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["signed_on"].initial = timezone.localdate()

    def clean(self):
        data = super().clean()
        org_id, name = data.get("organization"), (data.get("organization_name") or "").strip()
        data["recipient_organization"] = None
        if org_id or name:
            organizations = Organization.objects.for_network(self.network)
            match = (
                organizations.filter(pk=org_id)
                if org_id
                else organizations.filter(name__iexact=name)
            )
            found = list(match[:2])
            if len(found) != 1:
                self.add_error(
                    "organization_name",
                    "No organization of that name in the directory."
                    if not found
                    else "Several organizations have that name; start from the service page.",
                )
            else:
                data["recipient_organization"] = found[0]
        return data

    def to_data(self) -> ConsentData:
        data = self.cleaned_data
        signed_at = timezone.make_aware(datetime.combine(data["signed_on"], time(12)))
        return ConsentData(
            categories=data["categories"],
            purpose=data["purpose"],
            signed_at=min(signed_at, timezone.now()),
            signed_by_name=data["signed_by_name"],
            recipient_organization=data["recipient_organization"],
            recipient_class=data["recipient_class"],
            signer=data["signer"],
            representative_authority=data["representative_authority"] or "",
            part2=data["part2"],
            expires_on=data["expires_on"],
            expiry_event=data["expiry_event"] or "",
            no_expiry=data["no_expiry"],
        )


class RevokeForm(forms.Form):
    revocation_method = NoNulCharField(
        max_length=200,
        label="How the client revoked it",
        initial="In writing",
    )


def apply_domain_error(form: forms.Form, error: DomainError) -> None:
    """Puts a service's refusal next to the field it names (or at the top of the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
