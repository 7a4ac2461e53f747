"""A small county for intake: our own practice (agency A: adult individual counseling, with an
opening), and the partners intake recommends from — a DV program, a couples counseling center
(which DV + couples must never be sent to), a detox unit that takes court orders, a court
clinic, a children's play-therapy practice, a women-only house, and agency C's program in
another network (never recommended)."""

from dataclasses import dataclass

import pytest

from referloop.directory.models import Service
from referloop.intake.services import ScreeningData
from tests.directory import factories as directory


@dataclass
class County:
    own: Service
    dv: Service
    couples: Service
    detox: Service
    court: Service
    play: Service
    women: Service
    elsewhere: Service


@pytest.fixture
def county(cast) -> County:
    ours = directory.organization(network=cast.network, agency=cast.agency_a, name="Alpha Recovery")
    own = directory.service(
        organization=ours, name="Alpha counseling", needs=["counseling"], minimum_age=18
    )
    safe = directory.organization(
        network=cast.network, name="Safe Harbor", email="intake@safeharbor.example.org"
    )
    dv = directory.service(
        organization=safe,
        name="Individual domestic violence counseling",
        needs=["domestic-violence", "counseling"],
        email="referrals@safeharbor.example.org",
    )
    together = directory.organization(network=cast.network, name="Together Again")
    couples = directory.service(
        organization=together,
        name="Couples and marriage counseling",
        needs=["counseling", "domestic-violence"],
    )
    hospital = directory.organization(network=cast.network, name="County Hospital")
    detox = directory.service(
        organization=hospital,
        name="Medical detox unit",
        needs=["detox"],
        court_ordered_accepted=True,
        email="detox@hospital.example.org",
    )
    clinic = directory.organization(network=cast.network, name="Court Clinic")
    court = directory.service(
        organization=clinic,
        name="Court-ordered counseling",
        needs=["counseling"],
        court_ordered_accepted=True,
    )
    kids = directory.organization(network=cast.network, name="Little Steps")
    play = directory.service(
        organization=kids, name="Play therapy for children", needs=["counseling"], maximum_age=12
    )
    house = directory.organization(network=cast.network, name="Rose House")
    women = directory.service(
        organization=house,
        name="Women's recovery residence",
        needs=["sober-living"],
        genders_served=["female"],
    )
    far = directory.organization(network=cast.other_network, name="Charlie DV program")
    elsewhere = directory.service(
        organization=far, name="Charlie DV counseling", needs=["domestic-violence"]
    )
    return County(own, dv, couples, detox, court, play, women, elsewhere)


def screening(**changes) -> ScreeningData:
    """A caller asking for adult individual counseling, nothing flagged."""
    values = {
        "first_name": "Avery",
        "last_name": "Quinn",
        "phone": "555-0100",
        "need": "counseling",
        "service_format": "individual",
        "age_group": "adult",
        "age": 34,
        "severity": "moderate",
        "suicidal_risk": False,
        "homicidal_risk": False,
        "domestic_violence": False,
        "substance_use": False,
        "legal_involvement": False,
    }
    return ScreeningData(**{**values, **changes})
