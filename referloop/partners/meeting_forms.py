"""The meeting form: a day and two clock times in the agency's zone, and who is invited."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms

from referloop.clients.forms import NoNulCharField
from referloop.core.models import User
from referloop.directory.models import Contact
from referloop.partners.meetings import MEETING_KINDS
from referloop.partners.models import InteractionKind


class Person(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        name = getattr(obj, "full_name", None) or getattr(obj, "name", "")
        return f"{name} <{obj.email}>" if name else obj.email


class MeetingForm(forms.Form):
    title = NoNulCharField(max_length=200)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="YYYY-MM-DD")
    starts = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time"}))
    ends = forms.TimeField(label="To", widget=forms.TimeInput(attrs={"type": "time"}))
    kind = forms.ChoiceField(
        label="How", choices=[(k.value, InteractionKind(k).label) for k in MEETING_KINDS]
    )
    location = NoNulCharField(
        max_length=300, required=False, help_text="An address, or the video link"
    )
    description = NoNulCharField(
        max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    contacts = Person(
        queryset=Contact.objects.none(),
        required=False,
        label="Partner contacts",
        widget=forms.CheckboxSelectMultiple,
    )
    colleagues = Person(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    WHO = ("contacts", "colleagues")

    def __init__(self, *args, agency, organizer, relationship=None, time_zone="", **kwargs):
        super().__init__(*args, **kwargs)
        # An edit keeps the zone the meeting was scheduled in.
        self.zone = ZoneInfo(time_zone or agency.time_zone)
        contacts = Contact.objects.filter(network_id=agency.network_id).exclude(email="")
        if relationship is not None:
            # The partner's people first: the list is long in a big network.
            contacts = contacts.filter(organization_id=relationship.organization_id)
        self.fields["contacts"].queryset = contacts.order_by("name", "pk")
        self.fields["colleagues"].queryset = (
            User.objects.filter(memberships__agency=agency, memberships__is_active=True)
            .exclude(pk=organizer.pk)
            .order_by("full_name", "pk")
        )

    def detail_fields(self):
        return [self[name] for name in self.fields if name not in self.WHO]

    def clean(self):
        data = super().clean()
        if all(data.get(name) for name in ("day", "starts", "ends")):
            data["starts_at"] = datetime.combine(data["day"], data["starts"], tzinfo=self.zone)
            data["ends_at"] = datetime.combine(data["day"], data["ends"], tzinfo=self.zone)
        return data

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "kind": data["kind"],
            "location": data["location"],
            "description": data["description"],
            "contacts": [c.pk for c in data["contacts"]],
            "colleagues": [u.pk for u in data["colleagues"]],
        }

    @classmethod
    def initial_for(cls, meeting) -> dict:
        zone = ZoneInfo(meeting.time_zone)
        starts, ends = meeting.starts_at.astimezone(zone), meeting.ends_at.astimezone(zone)
        return {
            "title": meeting.title,
            "day": starts.date(),
            "starts": starts.time(),
            "ends": ends.time(),
            "kind": meeting.kind,
            "location": meeting.location,
            "description": meeting.description,
            "contacts": [a.contact_id for a in meeting.attendees.all() if a.contact_id],
            "colleagues": [
                a.user_id
                for a in meeting.attendees.all()
                if a.user_id and a.user_id != meeting.organizer_id
            ],
        }


MAX_REPLY_BYTES = 1024 * 1024  # an answer is a few kilobytes; more is not one


class ReplyUploadForm(forms.Form):
    file = forms.FileField(label="The attendee's answer (.ics)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_REPLY_BYTES:
            raise forms.ValidationError("That file is too big to be an answer (over 1 MB).")
        return upload
