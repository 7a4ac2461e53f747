"""The demo's clients, consents and referral history: every status, a believable Monday morning
of overdue work, bounce-backs that link, timelines that agree with the referrals, stored due times
that `next_due` agrees with, consents the consent gate accepts, and the same seed (at the same
moment) giving the same tracking IDs.

The small demo is built once for the module (it is committed, then removed at the end); each
test runs in its own transaction on top of it.
"""

from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise

import pytest
import time_machine
from django.utils import timezone

from referloop.clients.models import Category, Client, Consent, Disclosure
from referloop.clients.selectors import client_possible_duplicates, disclosure_check
from referloop.core.models import Agency, IssuedTrackingId, Membership
from referloop.core.permissions import Role
from referloop.core.tracking_ids import tracking_id_normalize
from referloop.demo.build import CORE_AGENCIES, demo_build, demo_clear
from referloop.demo.referrals import VOLUMES
from referloop.referrals.due import escalation_threshold, next_due
from referloop.referrals.models import (
    CLOSED,
    TRANSITIONS,
    DueReason,
    EventKind,
    Packet,
    Referral,
    ReferralEvent,
    ReplyLink,
    Status,
)
from referloop.worklist.selectors import worklist_for

pytestmark = pytest.mark.django_db
SEED = 1


def _fingerprint() -> list[tuple]:
    return sorted(
        Referral.objects.filter(agency__network__is_demo=True).values_list(
            "agency__slug", "tracking_id", "status", "created_at", "client__last_name_sound_hash"
        )
    )


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The small demo, built at a fixed moment (history is laid out relative to now)."""
    moment = timezone.now()
    with django_db_blocker.unblock(), time_machine.travel(moment, tick=False):
        demo_build(size="small", seed=SEED)
        fingerprint = _fingerprint()
    yield {"moment": moment, "fingerprint": fingerprint}
    with django_db_blocker.unblock():
        demo_clear()


def demo_referrals():
    return Referral.objects.filter(agency__network__is_demo=True)


def test_volume_and_every_status(demo):
    referrals = demo_referrals()
    planned = VOLUMES["small"].referrals * len(CORE_AGENCIES)
    assert planned <= referrals.count() <= planned * 1.15
    statuses = Counter(referrals.values_list("status", flat=True))
    assert set(statuses) == set(Status.values)
    # Most loops closed well or are under way; a believable share still open or not accepted.
    done = statuses[Status.IN_PROGRESS] + statuses[Status.COMPLETED]
    assert done > referrals.count() / 2
    assert statuses[Status.REJECTED] > statuses[Status.ON_HOLD] > 0
    events = ReferralEvent.objects.filter(agency__network__is_demo=True).count()
    assert 4 * referrals.count() < events < 8 * referrals.count()


def test_history_spans_six_months_up_to_now(demo):
    now = timezone.now()
    created = list(demo_referrals().values_list("created_at", flat=True))
    assert min(created) < now - timedelta(days=150)
    assert max(created) > now - timedelta(days=2)
    assert max(ReferralEvent.objects.values_list("at", flat=True)) <= now


def test_each_coordinator_has_overdue_work_and_some_escalates(demo):
    """Monday morning: overdue items on every coordinator's list, some past the escalation
    threshold (the program lead's), and more coming due (today, when it is still working
    hours, and in the next days)."""
    now = timezone.now()
    escalated = coming = 0
    for _, slug, _ in CORE_AGENCIES:
        agency = Agency.objects.get(slug=slug)
        coordinator = Membership.objects.get(agency=agency, role=Role.COORDINATOR).user
        mine = Referral.objects.filter(agency=agency, owner=coordinator)
        assert mine.filter(next_due_at__lte=now).count() >= 2, slug
        escalated += mine.filter(next_due_at__lt=escalation_threshold(agency, now)).count()
        coming += mine.filter(next_due_at__gt=now, next_due_at__lt=now + timedelta(days=2)).count()
    assert escalated >= 1
    assert coming >= 3
    reasons = set(demo_referrals().exclude(due_reason="").values_list("due_reason", flat=True))
    assert reasons == set(DueReason.values)


def test_monday_morning_worklists(demo):
    """What people see: the coordinator's overdue referral items, the program lead's
    escalations, and the receiving agency's inbox of referrals to acknowledge."""
    inbox_items = 0
    for _, slug, _ in CORE_AGENCIES:
        agency = Agency.objects.get(slug=slug)
        members = {m.role: m for m in Membership.objects.filter(agency=agency)}
        coordinator = worklist_for(agency=agency, member=members[Role.COORDINATOR])
        owned_kinds = {f"referral_{reason}" for reason in DueReason.values}
        overdue = [item for item in coordinator.overdue if item.kind in owned_kinds]
        assert len(overdue) >= 2, slug
        assert {item.owner_id for item in overdue} == {members[Role.COORDINATOR].user_id}
        inbox_items += sum(item.kind == "referral_inbox" for item in coordinator.overdue)
    lead_kinds = Counter(
        item.kind
        for _, slug, _ in CORE_AGENCIES
        for item in worklist_for(
            agency=Agency.objects.get(slug=slug),
            member=Membership.objects.get(agency__slug=slug, role=Role.PROGRAM_LEAD),
        ).overdue
    )
    assert lead_kinds["escalation"] >= 1
    assert inbox_items >= 1


def test_stored_due_times_are_what_next_due_says(demo):
    referrals = demo_referrals().select_related("agency").order_by("pk")
    for referral in referrals[::7]:
        due = next_due(referral, referral.agency)
        assert (referral.next_due_at, referral.due_reason) == (due.at, due.reason or "")


def test_timelines_agree_with_the_referrals(demo):
    events = defaultdict(list)
    rows = ReferralEvent.objects.filter(agency__network__is_demo=True).order_by("at", "pk")
    for row in rows.values("referral_id", "at", "kind", "from_status", "to_status", "actor_label"):
        events[row["referral_id"]].append(row)
    for referral in demo_referrals():
        timeline = events[referral.pk]
        assert timeline[0]["kind"] == EventKind.CREATED
        assert timeline[0]["at"] == referral.created_at
        moves = [e for e in timeline if e["to_status"]]
        status = Status.DRAFT
        for move in moves:  # every recorded move is one the life cycle allows, in order
            assert move["from_status"] == status, referral.tracking_id
            assert move["to_status"] in TRANSITIONS[status], referral.tracking_id
            status = move["to_status"]
        assert status == referral.status, referral.tracking_id
        if referral.sent_at:
            assert moves[0]["kind"] == EventKind.SENT and moves[0]["at"] == referral.sent_at
        if referral.status in CLOSED:
            assert moves[-1]["at"] == referral.closed_at
        follow_ups = [e["at"] for e in timeline if e["kind"] == EventKind.FOLLOW_UP]
        assert referral.last_follow_up_at == (max(follow_ups) if follow_ups else None)
        if referral.received_at:
            assert referral.received_at >= referral.sent_at


def test_bounce_backs_link_to_the_referral_they_re_refer(demo):
    linked = demo_referrals().filter(bounce_back_of__isnull=False).select_related("bounce_back_of")
    assert linked.count() >= 10
    for referral in linked:
        old = referral.bounce_back_of
        assert (old.agency_id, old.client_id) == (referral.agency_id, referral.client_id)
        assert old.status in CLOSED
        assert old.closed_at <= referral.created_at
        assert old.bounce_resolved_at is not None
        assert old.bounce_resolved_at <= referral.created_at
        assert ReferralEvent.objects.filter(
            referral=referral, kind=EventKind.BOUNCE_BACK, data__bounce_back_of=old.tracking_id
        ).exists()
    rejected = demo_referrals().filter(status=Status.REJECTED)
    assert linked.filter(bounce_back_of__status=Status.REJECTED).exists()
    # Some were resolved without a new referral (the owner said why); a few still wait.
    resolved_alone = rejected.filter(bounce_resolved_at__isnull=False, re_referrals__isnull=True)
    assert resolved_alone.exists()
    waiting = rejected.filter(bounce_resolved_at__isnull=True)
    assert waiting.exists()
    assert set(waiting.values_list("due_reason", flat=True)) == {DueReason.REREFER}


def test_partners_answer_through_reply_links_and_inboxes(demo):
    replies = ReferralEvent.objects.filter(
        agency__network__is_demo=True, kind=EventKind.PARTNER_REPLY, actor__isnull=True
    )
    assert replies.exists()
    assert all(
        label.endswith(" (reply link)") for label in replies.values_list("actor_label", flat=True)
    )
    # A reply link for every referral e-mailed to a partner outside Referloop, counting the
    # partner's answers exactly.
    emailed = demo_referrals().filter(sent_at__isnull=False, receiving_agency__isnull=True)
    links = ReplyLink.objects.filter(referral__in=emailed)
    assert links.count() == emailed.count()
    answers = Counter(
        replies.filter(actor_label__endswith="(reply link)").values_list("referral_id", flat=True)
    )
    for link in links.order_by("pk")[::9]:
        assert link.answer_count == answers[link.referral_id]
        assert link.contact_email.endswith(".example.org")
    # Referrals to agencies on Referloop land in their inbox, and their staff answer there.
    inbox = demo_referrals().filter(receiving_agency__isnull=False).exclude(status=Status.DRAFT)
    assert inbox.count() > demo_referrals().count() / 10
    sample = inbox.select_related("organization").first()
    assert sample.organization.agency_id == sample.receiving_agency_id != sample.agency_id
    staff_moves = ReferralEvent.objects.filter(
        referral__in=inbox, actor_agency=sample.receiving_agency, to_status__gt=""
    )
    assert staff_moves.exists()


def test_clients_have_safe_contact_rules_and_searchable_keys(demo):
    clients = Client.objects.filter(agency__network__is_demo=True)
    assert clients.filter(name_dob_hash="").count() == 0
    assert clients.filter(last_name_sound_hash="").count() == 0
    languages = Counter(clients.values_list("preferred_language", flat=True))
    assert languages["English"] > languages["Spanish"] > 0
    assert clients.filter(voicemail_ok=False).exists()
    assert clients.filter(safe_hours="Texts only after 6 pm", text_ok=True).exists()
    assert clients.filter(do_not_disclose_location=True).exists()
    do_not_contact = clients.filter(do_not_contact=True)
    assert do_not_contact.exists()
    assert not demo_referrals().filter(client__in=do_not_contact, sent_at__isnull=False).exists()
    # Identifying fields are stored encrypted and read back in clear.
    client = clients.first()
    assert client.first_name and not client.first_name.startswith("enc1:")
    # The few people recorded twice (the same last name and birth date, a variant first name)
    # are found by duplicate detection. Others may share a birth date and the sound of a last
    # name by chance: only pairs with the same last name are the demo's own.
    twins = Counter(clients.values_list("agency_id", "dob_hash", "last_name_sound_hash"))
    pairs = []
    for (agency_id, dob_hash, sound), count in twins.items():
        if count >= 2:
            group = list(
                clients.filter(
                    agency_id=agency_id, dob_hash=dob_hash, last_name_sound_hash=sound
                ).order_by("pk")
            )
            pairs += [(a, b) for a, b in pairwise(group) if a.last_name == b.last_name]
    assert pairs
    for first, second in pairs[:5]:
        found = client_possible_duplicates(
            agency=first.agency,
            first_name=first.first_name,
            last_name=first.last_name,
            date_of_birth=first.date_of_birth,
            exclude_pk=first.pk,
        )
        assert second.pk in {duplicate.client.pk for duplicate in found}


def test_every_sent_referral_was_covered_by_its_consent_when_sent(demo):
    sent = demo_referrals().filter(sent_at__isnull=False).order_by("pk")
    sample = list(sent.values_list("pk", flat=True))[::8]
    for referral in sent.filter(pk__in=sample).select_related(
        "client", "organization", "consent__agency"
    ):
        decision = disclosure_check(
            consent=referral.consent,
            client=referral.client,
            organization=referral.organization,
            categories=referral.categories,
            at=referral.sent_at,
        )
        assert decision, (referral.tracking_id, decision.reason)
    consents = Consent.objects.filter(agency__network__is_demo=True)
    part2 = consents.filter(part2=True).values_list("categories", flat=True)
    assert any(Category.SUBSTANCE_USE in categories for categories in part2)
    assert consents.filter(recipient_class="network_agencies").exists()
    assert consents.filter(revoked_at__isnull=False).exists()
    assert consents.filter(expires_on__lt=timezone.now().date()).exists()


def test_packets_and_ledger_for_the_newest_open_referrals(demo):
    packets = Packet.objects.filter(agency__network__is_demo=True)
    assert packets.exists()
    assert Disclosure.objects.filter(agency__network__is_demo=True).count() == packets.count()
    packet = packets.select_related("referral").first()
    assert packet.referral.tracking_id in packet.content


def test_tracking_ids_are_valid_issued_and_unique(demo):
    codes = list(demo_referrals().values_list("tracking_id", flat=True))
    assert len(set(codes)) == len(codes)
    assert all(tracking_id_normalize(code) == code for code in codes)
    issued = set(
        IssuedTrackingId.objects.filter(network__is_demo=True).values_list("code", flat=True)
    )
    assert issued == set(codes)


def test_same_seed_at_the_same_moment_gives_the_same_history(demo):
    with time_machine.travel(demo["moment"], tick=False):
        demo_build(size="small", seed=SEED)
    assert _fingerprint() == demo["fingerprint"]


def test_clearing_removes_the_history(demo):
    demo_clear()
    assert not Referral.objects.exists()
    assert not ReferralEvent.objects.exists()
    assert not Client.objects.exists()
    assert not Consent.objects.exists()
