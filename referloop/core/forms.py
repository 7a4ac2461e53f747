from zoneinfo import available_timezones

from django import forms
from django.contrib.auth import authenticate
from django.utils import timezone

from referloop.core import services
from referloop.core.audit import audit_record, client_ip
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from referloop.core.permissions import Role
from referloop.core.policy import AgencyPolicy
from referloop.core.selectors import login_locked_until


def _minutes_until(moment) -> int:
    return max(1, round((moment - timezone.now()).total_seconds() / 60))


class LoginForm(forms.Form):
    """E-mail + password, throttled per (account, address): past the limit that pair is locked
    for a while and the form says so, even if the password is then right."""

    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        email = (self.cleaned_data.get("email") or "").lower()
        password = self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        ip = client_ip(self.request)
        locked_until = login_locked_until(key=services.login_throttle_key(email, ip))
        if locked_until:
            audit_record(
                action="login_refused",
                request=self.request,
                object_type="core.user",
                outcome=AuditEvent.Outcome.DENIED,
                detail={"email": email, "reason": "locked"},
            )
            raise forms.ValidationError(
                f"Too many failed sign-ins: this account is locked from your address for another "
                f"{_minutes_until(locked_until)} minute(s). Try again later or ask your "
                "administrator.",
                code="locked",
            )
        self.user = authenticate(self.request, username=email, password=password)
        if self.user is None:
            newly_locked = services.login_failure_record(email=email, ip=ip)
            audit_record(
                action="login_failed",
                request=self.request,
                object_type="core.user",
                outcome=AuditEvent.Outcome.DENIED,
                detail={"email": email},
            )
            if newly_locked:
                raise forms.ValidationError(
                    f"Too many failed sign-ins: this account is now locked from your address for "
                    f"{_minutes_until(newly_locked)} minutes.",
                    code="locked",
                )
            raise forms.ValidationError(
                "The e-mail address or password is not correct.", code="invalid_login"
            )
        services.login_failures_clear(email=email, ip=ip)
        return self.cleaned_data


class DayListField(forms.CharField):
    """A list of day counts typed as "7, 14, 30"."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(day) for day in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        parts = [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part]
        if not all(part.isdigit() for part in parts):
            raise forms.ValidationError("Write whole numbers of days separated by commas.")
        return [int(part) for part in parts]


def _policy_form_field(name, info):
    default = info.default
    if isinstance(default, bool):
        return forms.BooleanField(label=info.title, required=False)
    if info.default_factory is not None and info.annotation == list[int]:
        return DayListField(label=info.title, help_text=info.description, required=False)
    if isinstance(default, int):
        meta = {type(m).__name__: m for m in info.metadata}
        return forms.IntegerField(
            label=info.title,
            help_text=info.description,
            min_value=getattr(meta.get("Ge"), "ge", None),
            max_value=getattr(meta.get("Le"), "le", None),
        )
    return None


WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


class AgencyPolicyForm(forms.Form):
    """Edits the agency's policy document; the numeric fields are generated from the schema so a
    new policy setting appears here without touching the form."""

    time_zone = forms.ChoiceField(label="Time zone", choices=())
    working_weekdays = forms.TypedMultipleChoiceField(
        label="Working days", choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    holidays = forms.CharField(
        label="Days off (one date per line, YYYY-MM-DD)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(zone, zone) for zone in sorted(available_timezones())]
        for name, info in AgencyPolicy.model_fields.items():
            field = None if name in self.fields else _policy_form_field(name, info)
            if field is not None:
                self.fields[name] = field

    @classmethod
    def initial_for(cls, agency):
        policy = agency.policies.model_dump()
        policy["holidays"] = "\n".join(day.isoformat() for day in agency.policies.holidays)
        return {"time_zone": agency.time_zone, **policy}

    def clean_holidays(self):
        lines = [
            line.strip() for line in self.cleaned_data["holidays"].splitlines() if line.strip()
        ]
        return lines

    def policy_data(self):
        return {
            name: self.cleaned_data[name]
            for name in AgencyPolicy.model_fields
            if name in self.cleaned_data
        }

    def add_domain_error(self, error: DomainError):
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class MembershipForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)
    is_active = forms.BooleanField(label="Can sign in to this agency", required=False)
