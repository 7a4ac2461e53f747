"""The screening form (sections that follow a call), the rules page's forms, the rotation."""

from django import forms

from referloop.clients.forms import NoNulCharField
from referloop.directory.vocabulary import PAYMENT, VOCABULARIES
from referloop.intake import rules as triage
from referloop.intake.models import Caller, Channel, Status, choices_of
from referloop.intake.services import ProfileData, ScreeningData, ShiftData

YES_NO = [("yes", "Yes"), ("no", "No")]
UNKNOWN_YES_NO = [("", "Not asked"), ("yes", "Yes"), ("no", "No")]


def _yes_no(label, *, unknown=False):
    return forms.TypedChoiceField(
        label=label,
        choices=UNKNOWN_YES_NO if unknown else YES_NO,
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,  # the service says which answer is missing, and why
        widget=forms.Select if unknown else forms.RadioSelect,
    )


# The sections of the page, in the order of a call.
SECTIONS = [
    (
        "The caller",
        [
            "channel",
            "caller",
            "first_name",
            "last_name",
            "phone",
            "email",
            "voicemail_ok",
            "text_ok",
            "safe_contact_note",
        ],
    ),
    ("Safety first", ["suicidal_risk", "homicidal_risk", "domestic_violence"]),
    (
        "What they are asking for",
        ["need", "service_format", "age_group", "age", "specialties", "severity"],
    ),
    (
        "Substance use and the law",
        [
            "substance_use",
            "detox_needed",
            "legal_involvement",
            "court_ordered",
            "forensic_evaluation",
        ],
    ),
    ("Their resources", ["insurance", "has_transport", "language", "postal_code", "notes"]),
]


class ScreeningForm(forms.Form):
    channel = forms.ChoiceField(
        choices=Channel.choices, initial=Channel.PHONE, required=False, label="Came in by"
    )
    caller = forms.ChoiceField(
        choices=Caller.choices, initial=Caller.SELF, required=False, label="Who is calling"
    )
    first_name = NoNulCharField(max_length=100, required=False, label="First name")
    last_name = NoNulCharField(max_length=100, required=False, label="Last name")
    phone = NoNulCharField(max_length=50, required=False, label="Phone")
    email = NoNulCharField(max_length=254, required=False, label="E-mail")
    voicemail_ok = forms.BooleanField(required=False, label="A voicemail is safe")
    text_ok = forms.BooleanField(required=False, label="A text message is safe")
    safe_contact_note = NoNulCharField(
        max_length=300,
        required=False,
        label="Safe contact",
        help_text="e.g. only after 6 pm; do not say where from",
    )
    suicidal_risk = _yes_no("Imminently suicidal?")
    homicidal_risk = _yes_no("Imminently homicidal?")
    domestic_violence = _yes_no("Domestic violence involved?")
    need = forms.ChoiceField(
        choices=[("", "— choose —"), *triage.NEED_NAMES.items()],
        required=False,
        label="Service requested",
    )
    service_format = forms.ChoiceField(
        choices=choices_of(triage.FORMATS), required=False, widget=forms.RadioSelect, label="Format"
    )
    age_group = forms.ChoiceField(
        choices=choices_of(triage.AGE_GROUPS),
        required=False,
        widget=forms.RadioSelect,
        label="Age group",
    )
    age = forms.IntegerField(required=False, min_value=0, max_value=120, label="Age (if known)")
    specialties = forms.MultipleChoiceField(
        choices=choices_of(triage.SPECIALTIES),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Specialties needed",
    )
    severity = forms.ChoiceField(
        choices=choices_of(triage.SEVERITIES),
        required=False,
        widget=forms.RadioSelect,
        label="Severity",
    )
    substance_use = _yes_no("Substance use involved?")
    detox_needed = _yes_no("Needs detox (withdrawal management) first?", unknown=True)
    legal_involvement = _yes_no("Legal or court involvement?")
    court_ordered = _yes_no("Treatment is court-ordered?", unknown=True)
    forensic_evaluation = _yes_no(
        "Needs a forensic evaluation (assessment for court)?", unknown=True
    )
    insurance = forms.ChoiceField(
        choices=[("", "— unknown —"), *VOCABULARIES[PAYMENT][1]],
        required=False,
        label="Insurance / payment",
    )
    has_transport = _yes_no("Has transport?", unknown=True)
    language = NoNulCharField(max_length=12, required=False, label="Language (ISO code, e.g. es)")
    postal_code = NoNulCharField(max_length=10, required=False, label="ZIP code")
    notes = NoNulCharField(
        max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Notes"
    )

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in SECTIONS]

    def to_data(self) -> ScreeningData:
        data = self.cleaned_data
        values = {name: data.get(name) for name in ScreeningData.__dataclass_fields__}
        # Not chosen: how most inquiries come (a phone call from the person themself).
        values["channel"] = values["channel"] or Channel.PHONE
        values["caller"] = values["caller"] or Caller.SELF
        return ScreeningData(**values)


class AssignForm(forms.Form):
    owner = forms.TypedChoiceField(coerce=int, label="Owner")
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [(m.user_id, str(m.user)) for m in members]


class CloseForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(Status.IN_HOUSE, Status.IN_HOUSE.label), (Status.CLOSED, Status.CLOSED.label)],
        widget=forms.RadioSelect,
        label="What happened",
    )
    choice_note = NoNulCharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="The person's choice",
        help_text="In their words: what they chose, or why nothing was.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class ProfileForm(forms.Form):
    formats = forms.MultipleChoiceField(
        choices=choices_of(triage.FORMATS),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Formats we offer",
    )
    age_groups = forms.MultipleChoiceField(
        choices=choices_of(triage.AGE_GROUPS),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Age groups we serve",
    )
    specialties = forms.MultipleChoiceField(
        choices=choices_of(triage.SPECIALTIES),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Our specialties",
    )
    max_severity = forms.ChoiceField(
        choices=choices_of(triage.SEVERITIES), label="The highest severity our coverage handles"
    )
    court_qualified = forms.BooleanField(
        required=False, label="We are contracted or qualified for court-ordered and forensic work"
    )
    accepting_new = forms.BooleanField(required=False, label="We have openings for new clients")

    def to_data(self) -> ProfileData:
        return ProfileData(**self.cleaned_data)


def when_parse(text: str) -> dict:
    """A rule's conditions as typed on the rules page: "domestic_violence=yes, service_format=
    couples|family" (blank: always)."""
    when = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, sep, values = part.partition("=")
        name = name.strip()
        if not sep or not values.strip():
            raise forms.ValidationError(f"Write each condition as fact=value, not {part!r}.")
        fact = triage.FACTS.get(name)
        if fact is None:
            raise forms.ValidationError(f"Unknown fact {name!r}.")
        parsed = [v.strip() for v in values.split("|")]
        if isinstance(fact.values[0], bool):
            if len(parsed) != 1 or parsed[0] not in ("yes", "no"):
                raise forms.ValidationError(f"{name} is yes or no.")
            when[name] = parsed[0] == "yes"
        else:
            when[name] = parsed
    return when


def when_text(when: dict) -> str:
    parts = []
    for name, expected in when.items():
        if isinstance(expected, bool):
            parts.append(f"{name}={'yes' if expected else 'no'}")
        else:
            parts.append(f"{name}={'|'.join(expected)}")
    return ", ".join(parts)


class RuleForm(forms.Form):
    name = NoNulCharField(max_length=120, required=False, label="Name")
    when = NoNulCharField(
        max_length=1000,
        required=False,
        label="When",
        help_text="fact=value pairs, separated by commas; blank: always",
    )
    action = forms.ChoiceField(choices=[("", "— choose —"), *triage.ACTIONS.items()], label="Then")
    parameter = NoNulCharField(max_length=60, required=False, label="Parameter")
    explanation = NoNulCharField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Explanation shown to staff",
    )
    is_active = forms.BooleanField(required=False, label="Active")
    DELETE = forms.BooleanField(required=False, label="Remove")

    def clean_when(self):
        return when_parse(self.cleaned_data["when"])

    def to_rule(self) -> dict:
        data = self.cleaned_data
        return {
            key: data[key]
            for key in ("name", "when", "action", "parameter", "explanation", "is_active")
        }


RuleFormSet = forms.formset_factory(RuleForm, extra=1, max_num=100, absolute_max=101)


class ShiftForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int, label="Who", required=False)
    weekday = forms.TypedChoiceField(
        coerce=int,
        choices=[
            ("", "—"),
            (1, "Monday"),
            (2, "Tuesday"),
            (3, "Wednesday"),
            (4, "Thursday"),
            (5, "Friday"),
            (6, "Saturday"),
            (7, "Sunday"),
        ],
        label="Day",
    )
    starts_at = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="From")
    ends_at = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="To")
    DELETE = forms.BooleanField(required=False, label="Remove")

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", "—"), *((m.user_id, str(m.user)) for m in members)]

    def to_data(self) -> ShiftData:
        data = self.cleaned_data
        return ShiftData(
            user_id=data["user"],
            weekday=data["weekday"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
        )


ShiftFormSet = forms.formset_factory(ShiftForm, extra=1, max_num=200, absolute_max=201)


class HandoffForm(forms.Form):
    """The warm handoff's own questions; the consent, when one must be recorded, is the
    clients app's ConsentForm beside it."""

    client = forms.ChoiceField(required=False, widget=forms.RadioSelect, label="The person is")
    last_name = NoNulCharField(max_length=100, required=False, label="Last name")
    date_of_birth = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Date of birth"
    )
    allow_duplicate = forms.BooleanField(
        required=False, label="This is someone else than the clients listed"
    )
    consent = forms.ChoiceField(required=False, label="Consent to share")
    contact_email = forms.EmailField(
        max_length=254,
        required=False,
        label="Send to (e-mail)",
        help_text="The partner gets a secure reply link; the e-mail names no one.",
    )
    reason = NoNulCharField(
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for the referral (shared with the partner)",
    )

    def __init__(self, *args, consents=(), duplicates=(), needs_client=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicates = {str(d.client.pk): d.client for d in duplicates}
        if needs_client:
            self.fields["client"].choices = [
                ("new", "A new client, from this inquiry"),
                *((pk, f"{c.display_name} (client #{pk})") for pk, c in self.duplicates.items()),
            ]
            self.fields["client"].initial = "new"
        else:
            for name in ("client", "last_name", "date_of_birth", "allow_duplicate"):
                del self.fields[name]
        if not self.duplicates and "allow_duplicate" in self.fields:
            del self.fields["allow_duplicate"]
        self.fields["consent"].choices = [
            *((str(c.pk), f"{c.purpose} — signed {c.signed_at:%b %-d, %Y}") for c in consents),
            ("", "Record a new consent below"),
        ]

    def existing_client(self):
        return self.duplicates.get(self.cleaned_data.get("client") or "")
