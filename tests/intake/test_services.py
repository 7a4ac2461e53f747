"""Intake against the database: a screening checked (missing answers, contradictions, unknown
services), decided by the agency's rules against its own listings and profile, recorded with the
options offered from the directory; the rotation's owner; the crisis alert; the warm handoff (a
client, a consent, a referral sent — all or nothing); rules saved only when they decide."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from referloop.clients.models import Category, Client, Consent
from referloop.clients.services import ConsentData
from referloop.core.errors import DomainError
from referloop.core.models import Membership, OutboundEmail
from referloop.core.permissions import Role
from referloop.intake import rules as triage
from referloop.intake import selectors, services
from referloop.intake.models import Inquiry, InquiryOption, Status
from referloop.referrals.models import Referral
from referloop.worklist.selectors import due_items_for
from tests.directory import factories as directory
from tests.intake.conftest import screening

pytestmark = pytest.mark.django_db

MONDAY_10AM_CHICAGO = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def _create(cast, **changes):
    return services.inquiry_create(
        agency=cast.agency_a, actor=cast.coordinator, data=screening(**changes)
    )


def _offered(inquiry) -> dict[str, list[str]]:
    offered = {}
    for option in inquiry.options.order_by("position"):
        offered.setdefault(option.need, []).append(option.service_name)
    return offered


# --- the screening --------------------------------------------------------------------------


@pytest.mark.parametrize("question", list(services.QUESTIONS))
def test_every_screening_question_must_be_answered(question):
    with pytest.raises(DomainError) as refused:
        services.screening_clean(screening(**{question: None}))
    assert refused.value.field == question
    assert refused.value.message.startswith("Answer yes or no")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"need": ""}, "need", "Choose the service requested"),
        ({"need": "astrology"}, "need", "Unknown the service requested"),
        ({"service_format": "retreat"}, "service_format", "Unknown a service format"),
        ({"age_group": ""}, "age_group", "Choose an age group"),
        ({"severity": ""}, "severity", "Choose a severity"),
        ({"first_name": " "}, "first_name", "Enter the person's first name"),
        ({"specialties": ["reiki"]}, "specialties", "Unknown specialty"),
        ({"insurance": "gold-bars"}, "insurance", "Unknown way to pay"),
        ({"postal_code": "ABCDE"}, "postal_code", "5-digit ZIP"),
        ({"email": "not-an-address"}, "email", "e-mail address"),
        ({"substance_use": True}, "detox_needed", "Is detox needed first?"),
        ({"legal_involvement": True}, "court_ordered", "court-ordered"),
        # Contradictions.
        ({"age_group": "child", "age": 34}, "age", "does not fit the age group child"),
        (
            {"age_group": "child", "age": 8, "service_format": "couples"},
            "service_format",
            "not for children",
        ),
        ({"age_group": "child", "age": 8, "need": "sober-living"}, "need", "adult program"),
        ({"specialties": ["play-therapy"]}, "specialties", "Play therapy is not for a adult"),
        (
            {"age_group": "adolescent", "age": 15, "specialties": ["geriatric"]},
            "specialties",
            "Geriatric is not for",
        ),
        ({"detox_needed": True}, "detox_needed", "only with substance use"),
        ({"court_ordered": True}, "legal_involvement", "legal system is involved"),
    ],
)
def test_bad_or_contradictory_answers_are_refused_naming_the_field(changes, field, words):
    with pytest.raises(DomainError) as refused:
        services.screening_clean(screening(**changes))
    assert refused.value.field == field
    assert words in refused.value.message
    assert not Inquiry.objects.exists()


def test_unknown_fields_from_outside_are_refused():
    with pytest.raises(DomainError, match="Unknown field: gender"):
        services.screening_from_dict({"gender": "female"})


# --- deciding and recording ----------------------------------------------------------------------


def test_a_request_we_serve_with_an_opening_stays_in_house(cast, county):
    inquiry = _create(cast)
    assert inquiry.outcome == "in_house"
    assert [rule["name"] for rule in inquiry.fired] == ["Otherwise: we are the right provider"]
    assert "We offer counseling / therapy for adult clients" in inquiry.fired[0]["explanation"]
    assert not inquiry.options.exists()


def test_dv_with_a_couples_request_never_offers_couples_therapy(cast, county):
    inquiry = _create(cast, domestic_violence=True, service_format="couples")
    assert inquiry.outcome == "refer_out"
    assert inquiry.contraindicated == ["couples"]
    fired = {rule["name"]: rule["explanation"] for rule in inquiry.fired}
    assert "Couples therapy is contraindicated" in fired["Domestic violence: no couples therapy"]
    offered = _offered(inquiry)
    assert offered == {"domestic-violence": ["Individual domestic violence counseling"]}
    reasons = inquiry.options.get().reasons
    assert "✓ Domestic violence services" in reasons


def test_no_opening_refers_out_to_others_never_to_ourselves_or_another_network(cast, county):
    directory.capacity(service=county.own, available=0, maximum=10, unit="appointments")
    inquiry = _create(cast)
    assert inquiry.outcome == "refer_out"
    offered = _offered(inquiry)["counseling"]
    assert "Alpha counseling" not in offered
    assert "Charlie DV counseling" not in offered
    assert set(offered) <= {
        "Individual domestic violence counseling",
        "Court-ordered counseling",
        "Couples and marriage counseling",
    }
    assert "Play therapy for children" not in offered  # age 34 is past its maximum


def test_an_opening_counted_again_keeps_the_request_in_house(cast, county):
    directory.capacity(service=county.own, available=2, maximum=10, unit="appointments")
    assert _create(cast).outcome == "in_house"


def test_detox_comes_first_then_admission(cast, county):
    inquiry = _create(cast, substance_use=True, detox_needed=True)
    assert inquiry.outcome == "both"
    first = inquiry.options.get(need="detox")
    assert first.before_admission and first.service_name == "Medical detox unit"


def test_court_orders_go_only_to_qualified_providers(cast, county):
    inquiry = _create(cast, legal_involvement=True, court_ordered=True, forensic_evaluation=False)
    assert inquiry.outcome == "refer_out"
    assert _offered(inquiry) == {"counseling": ["Court-ordered counseling"]}
    assert "Accepts court-ordered clients." in inquiry.options.get().reasons


def test_a_court_qualified_practice_keeps_court_work(cast, county):
    services.profile_save(
        agency=cast.agency_a,
        actor=cast.admin_a,
        data=services.ProfileData(
            formats=["individual"],
            age_groups=["adult"],
            specialties=[],
            max_severity="severe",
            court_qualified=True,
            accepting_new=True,
        ),
    )
    inquiry = _create(cast, legal_involvement=True, court_ordered=True, forensic_evaluation=False)
    assert inquiry.outcome == "in_house"


def test_children_and_specialties_outside_our_profile_are_referred_out(cast, county):
    inquiry = _create(cast, age_group="child", age=7, specialties=["play-therapy"])
    assert inquiry.outcome == "refer_out"
    names = [rule["name"] for rule in inquiry.fired]
    assert "An age group we do not serve" in names and "Outside our competencies" in names
    assert "Play therapy for children" in _offered(inquiry)["counseling"]


def test_a_program_limited_by_gender_says_so_and_gender_is_never_asked(cast, county):
    inquiry = _create(cast, need="sober-living", age=40)
    women = inquiry.options.get(service_name="Women's recovery residence")
    assert any("eligibility is by gender (serves women only)" in r for r in women.reasons)
    assert "gender" not in services.SCREENING_FIELDS


def test_imminent_risk_takes_the_crisis_pathway_and_alerts_the_owner_now(cast, county):
    services.shifts_save(
        agency=cast.agency_a,
        actor=cast.admin_a,
        shifts=[services.ShiftData(cast.coordinator.pk, 1, time(9), time(17))],
    )
    with time_machine.travel(MONDAY_10AM_CHICAGO, tick=False):
        inquiry = _create(
            cast, suicidal_risk=True, domestic_violence=True, service_format="couples"
        )
    assert inquiry.outcome == "crisis" and inquiry.urgent
    assert inquiry.fired[0]["name"] == "Imminent risk: crisis first"
    assert "988" in inquiry.fired[0]["explanation"]
    assert inquiry.owner == cast.coordinator and inquiry.owner_alerted_at is not None
    owner = Membership.objects.get(agency=cast.agency_a, user=cast.coordinator)
    until = inquiry.received_at + timedelta(hours=1)
    items = due_items_for(agency=cast.agency_a, member=owner, until=until)
    assert [i.kind_label for i in items if i.kind == "inquiry_urgent"] == [
        "Inquiry at imminent risk"
    ]
    services.inquiry_close(
        inquiry=inquiry,
        actor=cast.coordinator,
        status=Status.CLOSED,
        choice_note="Connected with 988 and the county crisis team.",
    )
    items = due_items_for(agency=cast.agency_a, member=owner, until=until)
    assert not [i for i in items if i.kind == "inquiry_urgent"]
    alert = OutboundEmail.objects.get(kind="intake_urgent")
    assert alert.to == cast.coordinator.email
    assert "Avery" not in alert.body_text and "Quinn" not in alert.body_text
    assert f"/intake/{inquiry.pk}/" in alert.body_text


def test_with_nobody_on_intake_the_leads_hear_of_a_crisis_and_the_worklist_asks_to_assign(
    cast, county
):
    inquiry = _create(cast, homicidal_risk=True)
    assert inquiry.owner is None
    alerted = set(OutboundEmail.objects.filter(kind="intake_urgent").values_list("to", flat=True))
    assert alerted == {cast.members_a[Role.PROGRAM_LEAD].email}
    items = [
        item
        for item in due_items_for(agency=cast.agency_a, member=None, until=inquiry.received_at)
        if item.kind == "inquiry_unassigned"
    ]
    assert [item.action_label for item in items] == ["Assign"]
    assert "imminent risk" in items[0].reason
    services.inquiry_assign(inquiry=inquiry, actor=cast.admin_a, owner=cast.coordinator)
    assert not [
        item
        for item in due_items_for(agency=cast.agency_a, member=None, until=inquiry.received_at)
        if item.kind == "inquiry_unassigned"
    ]


def test_the_rotation_names_the_owner_by_day_and_hour(cast, county):
    intake_worker = cast.members_a[Role.INTAKE]
    services.shifts_save(
        agency=cast.agency_a,
        actor=cast.admin_a,
        shifts=[
            services.ShiftData(intake_worker.pk, 1, time(9), time(13)),
            services.ShiftData(cast.coordinator.pk, 1, time(13), time(17)),
        ],
    )
    assert selectors.on_intake(agency=cast.agency_a, at=MONDAY_10AM_CHICAGO) == intake_worker
    afternoon = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 2 pm in Chicago
    assert selectors.on_intake(agency=cast.agency_a, at=afternoon) == cast.coordinator
    sunday = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert selectors.on_intake(agency=cast.agency_a, at=sunday) is None


@pytest.mark.parametrize(
    ("shift", "words"),
    [
        ({"weekday": 8}, r"days are 1 \(Monday\) to 7"),
        ({"starts_at": time(17), "ends_at": time(9)}, "end after it starts"),
        ({"user_id": 0}, "someone in your agency"),
    ],
)
def test_a_bad_shift_is_refused_and_the_rotation_is_unchanged(cast, shift, words):
    good = services.ShiftData(cast.coordinator.pk, 1, time(9), time(17))
    services.shifts_save(agency=cast.agency_a, actor=cast.admin_a, shifts=[good])
    bad = services.ShiftData(**{**good.__dict__, **shift})
    with pytest.raises(DomainError, match=words):
        services.shifts_save(agency=cast.agency_a, actor=cast.admin_a, shifts=[good, bad])
    assert len(selectors.agency_shifts(agency=cast.agency_a)) == 1


def test_a_member_of_another_agency_cannot_be_on_our_rotation(cast):
    with pytest.raises(DomainError, match="someone in your agency"):
        services.shifts_save(
            agency=cast.agency_a,
            actor=cast.admin_a,
            shifts=[services.ShiftData(cast.admin_b.pk, 1, time(9), time(17))],
        )


# --- the rules ------------------------------------------------------------------------------------


def test_saved_rules_decide_later_inquiries_and_the_record_keeps_the_old_decision(cast, county):
    before = _create(cast)
    rules = [dict(rule) for rule in triage.DEFAULT_RULES]
    rules.insert(
        1,
        {
            "name": "Adults: refer out while we are on leave",
            "when": {"age_group": ["adult"]},
            "action": "refer_out",
            "parameter": "",
            "explanation": "Our adult clinician is on leave: refer {age_group} clients out.",
        },
    )
    services.rules_save(agency=cast.agency_a, actor=cast.admin_a, rules=rules)
    after = _create(cast)
    assert after.outcome == "refer_out"
    assert "refer adult clients out" in after.fired[0]["explanation"]
    before.refresh_from_db()
    assert before.outcome == "in_house"


def test_a_rule_set_that_leaves_screenings_undecided_is_not_saved(cast):
    services.rules_reset(agency=cast.agency_a, actor=cast.admin_a)
    rules = [rule for rule in triage.DEFAULT_RULES if rule["action"] != "serve_in_house"]
    with pytest.raises(DomainError, match="undecided"):
        services.rules_save(agency=cast.agency_a, actor=cast.admin_a, rules=rules)
    assert len(selectors.agency_rules(agency=cast.agency_a)) == len(triage.DEFAULT_RULES)


# --- the warm handoff ------------------------------------------------------------------------


def _consent(organization):
    return ConsentData(
        categories=[Category.CONTACT, Category.REASON],
        purpose="Referral for services and follow-up",
        signed_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        signed_by_name="Avery Quinn",
        recipient_organization=organization,
        no_expiry=True,
    )


def test_a_warm_handoff_records_the_client_and_consent_and_sends_the_referral(cast, county):
    with time_machine.travel(MONDAY_10AM_CHICAGO, tick=False):
        inquiry = _create(cast, domestic_violence=True, service_format="couples")
        option = inquiry.options.get()
        referral = services.inquiry_refer(
            option=option,
            actor=cast.coordinator,
            handoff=services.Handoff(
                consent_data=_consent(option.organization), reason="Safety planning."
            ),
        )
    assert referral.status == "requested"
    assert referral.contact_email == "referrals@safeharbor.example.org"
    assert referral.service == county.dv
    option.refresh_from_db()
    inquiry.refresh_from_db()
    assert option.referral == referral and option.chosen_at is not None
    assert inquiry.status == Status.REFERRED and inquiry.client.first_name == "Avery"
    assert inquiry.client.text_ok is False  # the safe-contact answers came along
    assert referral.next_due_at is not None  # followed up like every referral


def test_without_consent_the_handoff_changes_nothing(cast, county):
    inquiry = _create(cast, domestic_violence=True, service_format="couples")
    option = inquiry.options.get()
    with pytest.raises(DomainError) as refused:
        services.inquiry_refer(option=option, actor=cast.coordinator, handoff=services.Handoff())
    assert refused.value.code == "consent"
    assert not Client.objects.exists() and not Referral.objects.exists()
    assert not Consent.objects.exists()
    option.refresh_from_db()
    assert option.referral is None


def test_a_consent_to_another_organization_does_not_cover_the_handoff(cast, county):
    inquiry = _create(cast, domestic_violence=True, service_format="couples")
    option = inquiry.options.get()
    with pytest.raises(DomainError, match="does not cover"):
        services.inquiry_refer(
            option=option,
            actor=cast.coordinator,
            handoff=services.Handoff(consent_data=_consent(county.court.organization)),
        )
    assert not Referral.objects.exists()


def test_an_option_is_referred_once(cast, county):
    inquiry = _create(cast, domestic_violence=True, service_format="couples")
    option = inquiry.options.get()
    handoff = services.Handoff(consent_data=_consent(option.organization))
    services.inquiry_refer(option=option, actor=cast.coordinator, handoff=handoff)
    with pytest.raises(DomainError, match="sent for this option already"):
        services.inquiry_refer(
            option=InquiryOption.objects.get(pk=option.pk), actor=cast.coordinator, handoff=handoff
        )


def test_closing_records_the_persons_choice(cast, county):
    inquiry = _create(cast)
    with pytest.raises(DomainError, match="what the person chose"):
        services.inquiry_close(
            inquiry=inquiry, actor=cast.coordinator, status=Status.CLOSED, choice_note=""
        )
    closed = services.inquiry_close(
        inquiry=inquiry,
        actor=cast.coordinator,
        status=Status.IN_HOUSE,
        choice_note="Booked an intake appointment for Thursday.",
        version=inquiry.version,
    )
    assert closed.status == Status.IN_HOUSE and closed.closed_at is not None
    with pytest.raises(DomainError, match="reload"):
        services.inquiry_close(
            inquiry=inquiry,
            actor=cast.coordinator,
            status=Status.CLOSED,
            choice_note="x",
            version=inquiry.version,
        )


def test_identifying_answers_are_encrypted_at_rest(cast, county):
    from django.db import connection

    inquiry = _create(cast, safe_contact_note="Only after 6 pm")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT first_name, last_name, phone, safe_contact_note FROM intake_inquiry"
            " WHERE id = %s",
            [inquiry.pk],
        )
        stored = cursor.fetchone()
    assert all(value.startswith("enc1:") for value in stored)


def test_a_zip_missing_from_the_table_still_gets_recommendations(cast, county):
    cleaned = services.screening_clean(
        screening(domestic_violence=True, service_format="couples", postal_code="00001")
    )
    decided = selectors.triage_screening(agency=cast.agency_a, screening=cleaned)
    (group,) = decided.options
    assert [r.result.service.name for r in group.recommendations] == [
        "Individual domestic violence counseling"
    ]
    assert group.note == "ZIP 00001 is not in the ZIP table: distances are not shown."
