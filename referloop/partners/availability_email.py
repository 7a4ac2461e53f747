"""The monthly availability e-mail itself: its subject and its text and HTML parts, rendered
from templates, the same for the preview and for every recipient but the unsubscribe link."""

from dataclasses import dataclass
from datetime import date

from django.template.loader import render_to_string

from referloop.partners.selectors import Availability

# Shown in the preview where each recipient's own link will be.
PREVIEW_UNSUBSCRIBE_URL = "(each person's own unsubscribe link)"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def availability_subject(*, agency, month: date) -> str:
    return f"{agency.name}: beds and places available, {month:%B %Y}"


def availability_email_render(
    *, agency, availability: list[Availability], month: date, unsubscribe_url: str
) -> RenderedEmail:
    context = {
        "agency": agency,
        "availability": availability,
        "month": month,
        "unsubscribe_url": unsubscribe_url,
        "time_zone": agency.time_zone,
    }
    return RenderedEmail(
        subject=availability_subject(agency=agency, month=month),
        text=render_to_string("partners/email/availability.txt", context),
        html=render_to_string("partners/email/availability.html", context),
    )
