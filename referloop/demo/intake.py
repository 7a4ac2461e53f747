"""The demo network's intake: each core agency's profile and rotation, and a month of inquiries
of every kind — served in house, referred out, DV with a couples request, detox first, court
orders, a child asking for play therapy, a crisis — decided by the same rules and services as a
real call. Some came in when nobody was on intake (the worklist asks to assign them), some were
closed with the person's choice, one per agency became a warm handoff."""

import contextlib
import random
from dataclasses import replace
from datetime import time, timedelta

from django.utils import timezone

from referloop.clients.models import Category
from referloop.clients.services import ConsentData
from referloop.core.errors import DomainError
from referloop.core.models import Membership
from referloop.core.permissions import Role
from referloop.core.services import tracking_id_issue
from referloop.core.timeutils import agency_zone
from referloop.intake import services
from referloop.intake.models import Inquiry, InquiryOption, IntakeProfile, IntakeShift, Status

PROFILES = {
    "clearwater-counseling": services.ProfileData(
        formats=["individual", "couples", "family"],
        age_groups=["adult", "adolescent"],
        specialties=["trauma", "grief"],
        max_severity="moderate",
        court_qualified=False,
        accepting_new=True,
    ),
    "riverbend-treatment": services.ProfileData(
        formats=["individual", "group"],
        age_groups=["adult"],
        specialties=["trauma"],
        max_severity="severe",
        court_qualified=True,
        accepting_new=True,
    ),
}
BASE = services.ScreeningData(
    first_name="",
    need="counseling",
    service_format="individual",
    age_group="adult",
    severity="moderate",
    suicidal_risk=False,
    homicidal_risk=False,
    domestic_violence=False,
    substance_use=False,
    legal_involvement=False,
)
# (what the caller asked, as changes to BASE); every kind of decision appears.
KINDS = [
    {},
    {"service_format": "couples", "domestic_violence": True},
    {"suicidal_risk": True},
    {"need": "addiction-treatment", "substance_use": True, "detox_needed": True},
    {"legal_involvement": True, "court_ordered": True, "forensic_evaluation": False},
    {"age_group": "child", "age": 7, "specialties": ["play-therapy"]},
    {"severity": "severe", "insurance": "medicaid"},
    {"service_format": "family", "age_group": "adolescent", "age": 15},
    {"specialties": ["grief"], "language": "es"},
    {"need": "sober-living", "substance_use": True, "detox_needed": False},
    {"legal_involvement": True, "court_ordered": False, "forensic_evaluation": True},
    {"service_format": "group", "specialties": ["geriatric"], "age": 72},
]
CHOICES = [
    "Booked an intake appointment for next week.",
    "Will call the program we gave them; we follow up on Friday.",
    "Chose to wait for an opening with us.",
]


def intake_clear(*, agencies) -> None:
    ids = list(agencies.values_list("pk", flat=True))
    for model in (InquiryOption, Inquiry, IntakeShift, IntakeProfile):
        queryset = model.objects.filter(agency_id__in=ids)
        queryset._raw_delete(queryset.db)


def _rotation(agency) -> None:
    by_role = {m.role: m.user_id for m in Membership.objects.filter(agency=agency, is_active=True)}
    weekdays = by_role.get(Role.INTAKE) or by_role.get(Role.COORDINATOR)
    saturday = by_role.get(Role.COORDINATOR) or weekdays
    if weekdays is None:
        return
    shifts = [services.ShiftData(weekdays, day, time(9), time(17)) for day in range(1, 6)]
    shifts.append(services.ShiftData(saturday, 6, time(10), time(14)))
    services.shifts_save(agency=agency, actor=None, shifts=shifts)


def _handoff(inquiry: Inquiry, actor, now, *, fake, rng) -> None:
    option = inquiry.options.filter(organization__isnull=False).order_by("position").first()
    if option is None:
        return
    consent = ConsentData(
        categories=[Category.CONTACT, Category.REASON],
        purpose="Referral for services and follow-up",
        signed_at=min(inquiry.received_at + timedelta(minutes=20), now),
        signed_by_name=inquiry.display_name,
        recipient_organization=option.organization,
        no_expiry=True,
    )
    # A partner without an address to send to refuses it: that inquiry just stays open.
    with contextlib.suppress(DomainError):
        services.inquiry_refer(
            option=option,
            actor=actor,
            handoff=services.Handoff(
                last_name=inquiry.last_name or "Doe",
                date_of_birth=fake.date_of_birth(minimum_age=19, maximum_age=70).isoformat(),
                consent_data=consent,
                allow_duplicate=True,
                tracking_id=tracking_id_issue(network=inquiry.agency.network, rng=rng),
            ),
        )


def intake_build(*, agencies, fake, rng: random.Random, now) -> None:
    for agency in agencies[:5]:
        if agency.slug in PROFILES:
            services.profile_save(agency=agency, actor=None, data=PROFILES[agency.slug])
        _rotation(agency)
        actor = (
            Membership.objects.filter(agency=agency, role=Role.COORDINATOR).first()
            or Membership.objects.filter(agency=agency).first()
        )
        actor = actor.user if actor else None
        handed_off = False
        for index, kind in enumerate(KINDS):
            # Mostly office hours; every fourth at night, when nobody is on intake.
            days_ago = rng.randint(0, 30)
            hour = 3 if index % 4 == 3 else rng.randint(9, 16)
            local = timezone.localtime(now, agency_zone(agency)) - timedelta(days=days_ago)
            received = local.replace(hour=hour, minute=rng.randint(0, 59))
            received = min(received, now - timedelta(minutes=5))
            data = replace(
                BASE,
                first_name=fake.first_name(),
                last_name=fake.last_name(),
                phone=fake.numerify("555-01##"),
                **kind,
            )
            inquiry = services.inquiry_create(agency=agency, actor=actor, data=data, at=received)
            if inquiry.owner_id is None and days_ago > 2 and actor:
                # Taken by someone the next morning; the last few days' still wait.
                inquiry = services.inquiry_assign(inquiry=inquiry, actor=actor, owner=actor)
            if inquiry.outcome in ("refer_out", "both") and not handed_off and actor:
                _handoff(inquiry, actor, now, fake=fake, rng=rng)
                handed_off = True
            elif inquiry.outcome == "in_house" and days_ago > 3:
                services.inquiry_close(
                    inquiry=inquiry,
                    actor=actor,
                    status=Status.IN_HOUSE,
                    choice_note=rng.choice(CHOICES),
                )
