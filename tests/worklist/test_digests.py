"""Daily digests over a real SMTP server, with frozen time: one e-mail per person per day, grouped,
escalations for program leads, never twice, nothing on days off or for people with nothing due,
and never a client's name."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from referloop.core.models import Membership, OutboundEmail
from referloop.core.outbox import outbox_deliver
from referloop.core.permissions import Role
from referloop.core.services import agency_policy_update
from referloop.core.worker import run_due_sweeps
from referloop.referrals.models import EventKind, Referral, ReferralEvent
from referloop.referrals.services import Actor, referral_follow_up_log
from referloop.worklist.digests import digests_send
from tests.referrals import factories
from tests.smtp import smtp_server  # noqa: F401

# Agency A works in Chicago (UTC-5 in May). Referrals go out on Monday 4 May 2026 at 09:00;
# receipt is due two business days later, Wednesday 6 May at 09:00 (14:00 UTC).
SENT = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
RECEIPT_DUE = datetime(2026, 5, 6, 14, 0, tzinfo=UTC)
FRIDAY_8AM = datetime(2026, 5, 8, 13, 0, tzinfo=UTC)  # 08:00 in Chicago: receipts 47 hours late
CLIENT_NAMES = ("Dana", "Rivers")


@pytest.fixture
def mail(settings, smtp_server):  # noqa: F811
    settings.MAILERS = smtp_server.mailers()
    settings.SMTP_HOST = smtp_server.host
    return smtp_server


@pytest.fixture
def agencies(cast):
    """Every agency's policy reviewed, so the only things due are the referrals of each test."""
    for agency, admin in (
        (cast.agency_a, cast.admin_a),
        (cast.agency_b, cast.admin_b),
        (cast.agency_c, cast.admin_c),
    ):
        agency_policy_update(agency=agency, actor=admin, data={}, time_zone=agency.time_zone)
    return cast


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(SENT, tick=False)
    return time_machine


def send_referrals(cast, count: int, *, owner=None, partner_agency=None) -> list[Referral]:
    return [
        factories.sample_referral(
            agency=cast.agency_a,
            actor=owner or cast.coordinator,
            name=f"Partner {number}",
            partner_agency=partner_agency,
        )
        for number in range(1, count + 1)
    ]


def run_day(clock, at) -> int:
    """One worker pass at `at`: the digest sweep, then delivery."""
    clock.move_to(at, tick=False)
    queued = digests_send()
    outbox_deliver()
    return queued


def digests(mail) -> list:
    """The digests among the messages sent (sending a referral also e-mails the partner)."""
    return [message for message in mail.messages if message["Subject"].startswith("Referloop, ")]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def link(referral: Referral) -> str:
    path = reverse("referrals:detail", kwargs={"pk": referral.pk})
    return f"{django_settings.BASE_URL}{path}#next-action"


def assert_no_client_names(mail):
    for message in digests(mail):
        whole = f"{message['Subject']}\n{text_of(message)}\n{html_of(message)}"
        assert not any(name in whole for name in CLIENT_NAMES), message["Subject"]


# --- the owner's digest -----------------------------------------------------------------------


def test_one_grouped_digest_for_a_coordinator_with_three_overdue(agencies, clock, mail):
    cast = agencies
    overdue = send_referrals(cast, 3)
    # A fourth, sent Wednesday afternoon: its receipt is due Friday afternoon, so "due today".
    clock.move_to(datetime(2026, 5, 6, 20, 0, tzinfo=UTC), tick=False)
    [today] = send_referrals(cast, 1)

    assert run_day(clock, FRIDAY_8AM) == 1
    [message] = digests(mail)
    assert message["To"] == cast.coordinator.email
    assert message["Subject"] == "Referloop, Fri 8 May: 3 overdue, 1 due today"
    text = text_of(message)
    assert "ALPHA RECOVERY" in text
    overdue_part, today_part = text.split("Overdue (3)")[1].split("Due today (1)")
    for ref in overdue:
        assert ref.tracking_id in overdue_part and link(ref) in overdue_part
    assert today.tracking_id in today_part and link(today) in today_part
    assert "No receipt confirmation from Partner 1" in overdue_part and "1 day overdue" in text
    html = html_of(message)
    assert all(link(ref) in html for ref in [*overdue, today])
    assert "<h3" in html and "Overdue (3)" in html and "Due today (1)" in html
    assert (
        OutboundEmail.objects.get(kind="digest").dedupe_key
        == f"digest:{cast.coordinator.pk}:2026-05-08"
    )
    assert_no_client_names(mail)


def test_running_digests_and_delivery_again_sends_nothing_more(agencies, clock, mail):
    send_referrals(agencies, 3)
    assert run_day(clock, FRIDAY_8AM) == 1
    assert run_day(clock, FRIDAY_8AM + timedelta(minutes=15)) == 0
    assert run_day(clock, FRIDAY_8AM + timedelta(hours=8)) == 0
    assert len(digests(mail)) == 1
    # The next business day is a new day: Monday brings the next digest.
    assert run_day(clock, FRIDAY_8AM + timedelta(days=3)) == 1
    assert len(digests(mail)) == 2


def test_the_worker_runs_the_digest_sweep(agencies, clock, mail):
    send_referrals(agencies, 1)
    clock.move_to(FRIDAY_8AM, tick=False)
    assert "referloop.worklist.digests.digests_send" in run_due_sweeps(worker="w1")
    outbox_deliver()
    assert [m["To"] for m in digests(mail)] == [agencies.coordinator.email]


def test_nothing_for_members_with_nothing_due(agencies, clock, mail):
    cast = agencies
    send_referrals(cast, 2)
    run_day(clock, FRIDAY_8AM)
    assert [m["To"] for m in digests(mail)] == [cast.coordinator.email]
    for role in (Role.PROGRAM_LEAD, Role.INTAKE, Role.AUDITOR, Role.ADMINISTRATOR):
        assert mail.messages_to(cast.members_a[role].email) == []


def test_inactive_people_get_nothing(agencies, clock, mail):
    cast = agencies
    send_referrals(cast, 2)
    cast.coordinator.is_active = False
    cast.coordinator.save(update_fields=["is_active"])
    assert run_day(clock, FRIDAY_8AM) == 0
    assert digests(mail) == []


def test_a_member_who_left_the_agency_gets_nothing(agencies, clock, mail):
    cast = agencies
    send_referrals(cast, 2)
    Membership.objects.filter(user=cast.coordinator).update(is_active=False)
    assert run_day(clock, FRIDAY_8AM) == 0
    assert digests(mail) == []


# --- days off and the morning hour ------------------------------------------------------------


def test_nothing_before_seven_in_the_agency_time_zone(agencies, clock, mail):
    send_referrals(agencies, 2)
    assert run_day(clock, datetime(2026, 5, 8, 11, 59, tzinfo=UTC)) == 0  # 06:59 in Chicago
    assert run_day(clock, datetime(2026, 5, 8, 12, 0, tzinfo=UTC)) == 1  # 07:00
    assert len(digests(mail)) == 1


def test_nothing_on_a_weekend(agencies, clock, mail):
    send_referrals(agencies, 2)
    saturday, sunday = FRIDAY_8AM + timedelta(days=1), FRIDAY_8AM + timedelta(days=2)
    assert run_day(clock, saturday + timedelta(hours=3)) == 0
    assert run_day(clock, sunday + timedelta(hours=3)) == 0
    assert digests(mail) == []


def test_nothing_on_an_agency_holiday(agencies, clock, mail):
    cast = agencies
    agency_policy_update(
        agency=cast.agency_a,
        actor=cast.admin_a,
        data={"holidays": ["2026-05-08"]},
        time_zone=cast.agency_a.time_zone,
    )
    send_referrals(cast, 2)
    assert run_day(clock, FRIDAY_8AM + timedelta(hours=2)) == 0
    assert digests(mail) == []


# --- escalations ------------------------------------------------------------------------------


def test_program_lead_gets_escalations_once_seven_days_overdue_and_not_before(
    agencies, clock, mail
):
    cast = agencies
    lead = cast.members_a[Role.PROGRAM_LEAD]
    refs = send_referrals(cast, 2)

    # Wednesday 08:00: six days and 23 hours late. The owner hears of it; the lead does not.
    run_day(clock, RECEIPT_DUE + timedelta(days=7, hours=-1))
    assert mail.messages_to(lead.email) == []
    assert len(mail.messages_to(cast.coordinator.email)) == 1
    assert not Referral.objects.filter(escalated_at__isnull=False).exists()

    # Wednesday 09:30: past the threshold; the lead gets today's digest with the escalations.
    crossed = RECEIPT_DUE + timedelta(days=7, minutes=30)
    assert run_day(clock, crossed) == 1
    [message] = mail.messages_to(lead.email)
    assert message["Subject"] == "Referloop, Wed 13 May: 2 escalated"
    text = text_of(message)
    assert "Escalations (2)" in text and "Overdue" not in text
    for ref in refs:
        assert ref.tracking_id in text and link(ref) in text
    assert f"7 days overdue, owned by {cast.coordinator}." in text
    assert "Review: " in text
    assert len(mail.messages_to(cast.coordinator.email)) == 1, "the owner's digest went already"

    # Marked once, with a timeline event each.
    assert set(Referral.objects.values_list("escalated_at", flat=True)) == {crossed}
    assert ReferralEvent.objects.filter(kind=EventKind.ESCALATED).count() == 2

    # Thursday: still escalated, so listed again in the lead's daily digest, but not re-marked.
    run_day(clock, crossed + timedelta(days=1))
    assert len(mail.messages_to(lead.email)) == 2
    assert set(Referral.objects.values_list("escalated_at", flat=True)) == {crossed}
    assert ReferralEvent.objects.filter(kind=EventKind.ESCALATED).count() == 2
    assert_no_client_names(mail)


def test_a_referral_late_again_after_a_chase_escalates_anew(agencies, clock, mail):
    cast = agencies
    [ref] = send_referrals(cast, 1)
    first = RECEIPT_DUE + timedelta(days=7, minutes=30)
    run_day(clock, first)
    referral_follow_up_log(referral=ref, actor=Actor(user=cast.coordinator, agency=cast.agency_a))
    # Chased: the next due time is a week on; two weeks after that it is 7 days late again.
    second = first + timedelta(days=15)
    run_day(clock, second)
    assert Referral.objects.get(pk=ref.pk).escalated_at == second
    assert ReferralEvent.objects.filter(kind=EventKind.ESCALATED).count() == 2


# --- several agencies, one e-mail -------------------------------------------------------------


def test_one_digest_across_a_persons_agencies(agencies, clock, mail):
    cast = agencies
    # The coordinator also works for Bravo Treatment, which has a new referral in its inbox.
    Membership.objects.create(user=cast.coordinator, agency=cast.agency_b, role=Role.COORDINATOR)
    own = send_referrals(cast, 1)
    [inbound] = send_referrals(
        cast, 1, owner=cast.members_a[Role.INTAKE], partner_agency=cast.agency_b
    )
    run_day(clock, FRIDAY_8AM)

    [message] = mail.messages_to(cast.coordinator.email)
    text = text_of(message)
    alpha, bravo = text.split("ALPHA RECOVERY")[1].split("BRAVO TREATMENT")
    assert own[0].tracking_id in alpha
    assert f"New referral {inbound.tracking_id} from Alpha Recovery" in bravo
    assert message["Subject"] == "Referloop, Fri 8 May: 2 overdue"
    # Bravo's administrator gets the inbox item too; the receiver never sees the client's name.
    assert len(mail.messages_to(cast.admin_b.email)) == 1
    assert_no_client_names(mail)
