"""Schemathesis against the API's own OpenAPI document: every operation, with a fixed seed.

Each operation gets requests that fit its schema and requests that do not; for an operation on a
record (/referrals/{referral_id}/transitions...), half of them name real records of the token's
agency -- in the path and in the body's ids -- so that they reach its rules instead of a 404.
Every answer must be a status code the document lists, with a body that matches its schema, and
never a server error.
"""

import time
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from referloop.core.outbox import outbox_enqueue
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.core.timeutils import agency_today
from referloop.intake import services as intake_services
from referloop.partners.meetings import meeting_schedule
from referloop.partners.services import materials_defaults_ensure
from referloop.referrals.models import DispositionCode, Referral, Status
from referloop.referrals.services import Actor, referral_transition
from referloop.stays import services as stay_services
from referloop.stays.models import InboundReferral, UpdateKind
from referloop.wsgi import application
from tests.conftest import make_member
from tests.directory import factories as directory
from tests.partners import factories as partner_factories
from tests.referrals import factories

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Examples per operation and run (a run sends generated path ids, or real ones: see `records`),
# per token: the coordinator's run goes deep; each other role of agency A, and agency B's
# administrator (whose "real" ids are agency A's records), a shorter one.
DEEP = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}
SHALLOW = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 2}
MIN_REQUESTS = 10_000
# Ids a request body names, by field: the records (below) they are taken from in a real run.
BODY_IDS = {
    "client": "client_id",
    "consent": "consent_id",
    "service": "service_id",
    "organization": "organization_id",
    "recipient_organization": "organization_id",
    "owner": "user_id",
}


@pytest.fixture
def in_test_transaction():
    """Django closes the database connection after each request it serves, which would end the
    test's transaction; its test client keeps it open the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _moved(referral, actor, *statuses):
    for status in statuses:
        referral = referral_transition(
            referral=referral, actor=actor, to_status=status, reason="On the partner's word"
        )
    return referral


@pytest.fixture
def records(cast) -> dict[str, list]:
    """Agency A's records by the name of the id that finds them: three clients with consents,
    a listing A runs (with beds) and two partners' (Harbor House, off Referloop, and Bravo
    Detox, agency B's), referrals A sent in every state from draft to completed, and one B sent
    to A, A's print materials and a message in its outbox."""
    actor = Actor(user=cast.coordinator, agency=cast.agency_a)
    harbor, harbor_intake = factories.partner(network=cast.network, name="Harbor House")
    bravo, bravo_intake = factories.partner(
        network=cast.network, agency=cast.agency_b, name="Bravo Detox"
    )
    alpha, alpha_homes = factories.partner(
        network=cast.network, agency=cast.agency_a, name="Alpha Recovery Homes"
    )
    directory.capacity(service=alpha_homes, available=3, maximum=12)
    clients = [
        factories.client(agency=cast.agency_a, first_name=first, last_name=last)
        for first, last in (("Dana", "Quillfeather"), ("Sam", "Okafor"), ("Lee", "Park"))
    ]
    consents, referrals = [], []
    for person in clients:
        for organization, service in ((harbor, harbor_intake), (bravo, bravo_intake)):
            consent = factories.consent(client=person, organization=organization)
            consents.append(consent)
            referrals.append(
                factories.referral(
                    client=person,
                    organization=organization,
                    service=service,
                    consent=consent,
                    actor=cast.coordinator,
                )
            )
    consents.append(factories.consent(client=clients[0], recipient_class="network_agencies"))
    for referral in referrals[2:]:
        factories.send(referral, actor=cast.coordinator)
    _moved(referrals[2], actor, Status.RECEIVED, Status.ON_HOLD)
    _moved(referrals[4], actor, Status.ACCEPTED, Status.IN_PROGRESS)
    closed = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    _moved(closed, actor, Status.ACCEPTED, Status.COMPLETED)
    outsider = factories.client(agency=cast.agency_b, first_name="Kim", last_name="Bravo")
    inbound = factories.send(
        factories.referral(
            client=outsider,
            organization=alpha,
            service=alpha_homes,
            consent=factories.consent(client=outsider, organization=alpha),
            actor=cast.admin_b,
        ),
        actor=cast.admin_b,
    )
    make_member(cast.agency_a, Role.INTAKE, "second-intake@alpha.example.org")
    members = cast.agency_a.memberships.all()
    codes = DispositionCode.objects.for_agency(cast.agency_a).values_list("code", flat=True)
    return {
        "client_id": [person.pk for person in clients],
        "consent_id": [consent.pk for consent in consents],
        "referral_id": [referral.pk for referral in (*referrals, closed, inbound)],
        "service_id": [alpha_homes.pk, harbor_intake.pk, bravo_intake.pk],
        "organization_id": [harbor.pk, bravo.pk, alpha.pk],
        "member_id": [member.pk for member in members],
        "user_id": [member.user_id for member in members],
        "code": list(codes),
        "kind": list(UpdateKind.values),
        "message_id": [
            outbox_enqueue(
                dedupe_key="fuzz:alpha",
                kind="test",
                to="someone@example.org",
                subject="Hello",
                body_text="Hello.",
                agency=cast.agency_a,
            )[0].pk
        ],
        "material_id": [
            material.pk for material in materials_defaults_ensure(agency=cast.agency_a)
        ],
        **_partner_records(cast, bravo),
    }


def _partner_records(cast, organization) -> dict:
    """A partner of agency A with a person and a meeting, an inbound referral and its stay, an
    inquiry and its options: the real ids of those routes."""
    relationship = partner_factories.relationship(
        agency=cast.agency_a, actor=cast.coordinator, name=organization.name
    )
    person = partner_factories.person(
        relationship=relationship, actor=cast.coordinator, email="pat@bravo.example.org"
    )
    starts = timezone.now() + timedelta(days=3)
    meeting = meeting_schedule(
        agency=cast.agency_a,
        actor=cast.coordinator,
        title="Fuzz meeting",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        contacts=[person.pk],
        relationship=relationship,
    )
    client = factories.client(agency=cast.agency_a, actor=cast.coordinator)
    inbound = stay_services.inbound_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        data=stay_services.InboundData(
            client=client, source_organization=organization, source_contact=person
        ),
    )
    # A program the screening's need leads to: the inquiry's options.
    directory.service(
        organization=organization, name="Counseling", needs=["domestic-violence", "counseling"]
    )
    inquiry = _inquiry(cast)
    stay = stay_services.stay_move_in(
        agency=cast.agency_a,
        actor=cast.coordinator,
        inbound=inbound,
        move_in_on=agency_today(cast.agency_a),
    )
    return {
        "relationship_id": [relationship.pk],
        "contact_id": [person.pk],
        "meeting_id": [meeting.pk],
        "inbound_id": [inbound.pk],
        "stay_id": [stay.pk],
        "update_id": list(stay.updates_owed.values_list("pk", flat=True)),
        "inquiry_id": [inquiry.pk],
        "option_id": list(inquiry.options.values_list("pk", flat=True)),
    }


def _inquiry(cast):
    return intake_services.inquiry_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        data=intake_services.ScreeningData(
            first_name="Fuzz",
            need="counseling",
            service_format="couples",
            age_group="adult",
            severity="mild",
            suicidal_risk=False,
            homicidal_risk=False,
            domestic_violence=True,
            substance_use=False,
            legal_involvement=False,
        ),
    )


def _real_ids(operation, records) -> st.SearchStrategy[dict]:
    """Real ids for the operation's path, and for any of the BODY_IDS in its body."""
    return st.fixed_dictionaries(
        {
            name: st.sampled_from(records[key])
            for name, key in (
                *((parameter.name, parameter.name) for parameter in operation.path_parameters),
                *BODY_IDS.items(),
            )
        }
    )


def _keys(body) -> set[str]:
    return set(body) if isinstance(body, dict) else set()


class Fuzzer:
    """Sends an operation's generated requests with a token, checks each answer, and counts
    them."""

    def __init__(self, token: str, records: dict[str, list], *, examples: dict, checks):
        self.token = token
        self.records = records
        self.examples = examples
        self.checks = checks
        self.requests = 0

    def run(self, operation, mode: GenerationMode, *, real: bool) -> None:
        """examples[mode] requests; with `real`, the path and body ids are real records'."""

        @settings(
            max_examples=self.examples[mode],
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            ids=_real_ids(operation, self.records) if real else st.just({}),
        )
        def send(case, ids):
            if ids:
                for parameter in operation.path_parameters:
                    case.path_parameters[parameter.name] = ids[parameter.name]
                for field in BODY_IDS.keys() & _keys(case.body):
                    if type(case.body[field]) is int:
                        case.body[field] = ids[field]
            case.headers["Authorization"] = f"Bearer {self.token}"
            response = case.call()
            self.requests += 1
            case.validate_response(response, checks=self.checks)

        send()


def nothing_of(markers: list[str]):
    """A check: the answer holds none of `markers` (another agency's tracking IDs, names)."""

    def check(ctx, response, case):
        text = response.content.decode("utf-8", errors="ignore")  # a PDF, too
        leaked = [marker for marker in markers if marker in text]
        if leaked:
            raise AssertionError(f"another agency's data in the answer: {leaked[:3]}")

    return check


def _agency_a_markers(cast) -> list[str]:
    """What agency B must never read: agency A's own referrals (not those sent to B, which B
    receives) and inbound referrals by tracking ID, a client of A's that B never received, and
    A's partner meeting."""
    sent = Referral.objects.filter(agency=cast.agency_a).exclude(receiving_agency=cast.agency_b)
    return [
        *sent.values_list("tracking_id", flat=True),
        *InboundReferral.objects.filter(agency=cast.agency_a).values_list("tracking_id", flat=True),
        "Quillfeather",  # Dana Quillfeather: A's client, referred to Harbor House only
        "Fuzz meeting",
    ]


def test_every_operation_answers_as_documented(cast, records, in_test_transaction, capsys):
    # The token is the one credential: generated (or left out) Authorization headers would only
    # show that a wrong token is a 401, which tests/core/test_api.py does.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=config)
    # The administrator's run comes last of agency A's: with real member ids it may change
    # others' roles or turn their access off, which would leave a later run only 401s.
    runs = [
        ("coordinator", cast.coordinator, cast.agency_a, DEEP, CHECKS),
        *(
            (str(role), cast.members_a[role], cast.agency_a, SHALLOW, CHECKS)
            for role in (Role.INTAKE, Role.PROGRAM_LEAD, Role.AUDITOR, Role.ADMINISTRATOR)
        ),
        (
            "agency B's administrator",
            cast.admin_b,
            cast.agency_b,
            SHALLOW,
            [*CHECKS, nothing_of(_agency_a_markers(cast))],
        ),
    ]
    failures, counts = [], {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    for label, user, agency, examples, checks in runs:
        token = api_token_create(user=user, agency=agency)[1]
        fuzzer = Fuzzer(token, records, examples=examples, checks=checks)
        for operation in operations:
            has_input = operation.body or any(operation.iter_parameters())
            for mode in examples:
                if mode.is_negative and not has_input:
                    continue  # nothing to send that its schema refuses (GET /me)
                reals = (False, True) if operation.path_parameters or operation.body else (False,)
                for real in reals:
                    try:
                        fuzzer.run(operation, mode, real=real)
                    except (Exception, FailureGroup) as error:
                        failures.append(
                            f"{label}: {operation.label} ({mode}, real ids: {real}): {error}"
                        )
        counts[label] = fuzzer.requests

    total = sum(counts.values())
    with capsys.disabled():
        print(
            f"\nschemathesis: {total:,} requests over {len(operations)} operations ("
            + "; ".join(f"{label} {count:,}" for label, count in counts.items())
            + f"), {len(failures)} failures, {time.monotonic() - started:.0f} s"
        )
    assert len(operations) == sum(map(len, schema.raw_schema["paths"].values()))
    assert total >= MIN_REQUESTS
    assert not failures, "\n\n".join(failures)
