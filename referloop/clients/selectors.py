"""Reads for clients and consent, including the one function that decides whether information
about a client may go to a recipient now."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from referloop.clients import matching
from referloop.clients.models import Category, Client, Consent, Disclosure, RecipientClass
from referloop.core.due import DueItem, DueRows
from referloop.core.permissions import Perm, has_perm
from referloop.core.timeutils import agency_zone, local_midnight_utc

FUZZY_NAME_THRESHOLD = 0.8


@dataclass(frozen=True)
class PossibleDuplicate:
    client: Client
    why: str


SAME_NAME_AND_BIRTH = "same name and date of birth"


def client_possible_duplicates(
    *, agency, first_name: str, last_name: str, date_of_birth: str, exclude_pk=None
) -> list[PossibleDuplicate]:
    """Clients of the agency who may be this person: the same name and date of birth, or a
    similar name (same sound of the last name, or the same birth date) -- found through indexed
    keyed hashes, compared decrypted only for those few candidates."""
    exact = matching.name_dob_hash(first_name, last_name, date_of_birth) if date_of_birth else ""
    sound = matching.last_name_sound_hash(last_name)
    born = matching.dob_hash(date_of_birth)
    lookup = Q(pk__in=[])
    for column, value in (("name_dob_hash", exact), ("last_name_sound_hash", sound)):
        if value:
            lookup |= Q(**{column: value})
    if born:
        lookup |= Q(dob_hash=born)
    candidates = Client.objects.for_agency(agency).filter(lookup)
    if exclude_pk is not None:
        candidates = candidates.exclude(pk=exclude_pk)
    wanted = f"{first_name} {last_name}"
    found = []
    for client in candidates[:200]:
        if exact and client.name_dob_hash == exact:
            found.append(PossibleDuplicate(client, SAME_NAME_AND_BIRTH))
            continue
        similarity = max(
            matching.name_similarity(wanted, f"{client.first_name} {client.last_name}"),
            matching.name_similarity(wanted, f"{client.preferred_name} {client.last_name}")
            if client.preferred_name
            else 0,
        )
        if similarity < FUZZY_NAME_THRESHOLD:
            continue
        same_birth = born and client.dob_hash == born
        found.append(
            PossibleDuplicate(
                client,
                "similar name and the same date of birth" if same_birth else "similar name",
            )
        )
    found.sort(key=lambda item: item.why != SAME_NAME_AND_BIRTH)
    return found


def agency_clients(*, agency) -> QuerySet[Client]:
    return Client.objects.for_agency(agency)


def client_consents(*, client: Client) -> QuerySet[Consent]:
    return client.consents.select_related("recipient_organization")


def client_disclosures(*, client: Client) -> QuerySet[Disclosure]:
    return client.disclosures.select_related("consent", "by")


@dataclass(frozen=True)
class DisclosureDecision:
    allowed: bool
    reason: str  # why not, in words a coordinator can act on; or what allows it
    consent: Consent | None = None

    def __bool__(self):
        return self.allowed


def consent_covers_recipient(consent: Consent, organization) -> bool:
    if consent.recipient_organization_id is not None:
        return organization is not None and consent.recipient_organization_id == organization.pk
    if consent.recipient_class == RecipientClass.NETWORK_AGENCIES:
        # Organizations that use Referloop in the consenting agency's own network.
        return (
            organization is not None
            and organization.agency_id is not None
            and organization.network_id == consent.agency.network_id
        )
    return False


def disclosure_check(
    *,
    consent: Consent | None,
    client: Client,
    organization,
    categories,
    at: datetime | None = None,
) -> DisclosureDecision:
    """May these categories of information about `client` go to `organization` now, under
    `consent`? Packets, e-mails, the partner page, exports and the API all ask this, and only
    this. Read the consent fresh (a revocation a second ago counts)."""
    at = at or timezone.now()
    if consent is None:
        return DisclosureDecision(False, "No consent is recorded for this referral.")
    if consent.client_id != client.pk or consent.agency_id != client.agency_id:
        return DisclosureDecision(False, "The consent belongs to another client.", consent)
    state = consent.state_at(at)
    if state == "revoked":
        revoked_on = consent.revoked_at.astimezone(agency_zone(client.agency)).date()
        return DisclosureDecision(
            False, f"The client revoked this consent on {revoked_on:%b %d, %Y}.", consent
        )
    if state == "ended":
        return DisclosureDecision(
            False, f"This consent ended ({consent.expiry_event or 'expiry event'}).", consent
        )
    if state == "expired":
        return DisclosureDecision(
            False, f"This consent expired on {consent.expires_on:%b %d, %Y}.", consent
        )
    if state != "in force":
        return DisclosureDecision(False, "This consent is not signed yet.", consent)
    if not consent_covers_recipient(consent, organization):
        name = organization.name if organization is not None else "this recipient"
        return DisclosureDecision(
            False, f"The consent does not name {name} as a recipient.", consent
        )
    missing = [value for value in categories if value not in consent.categories]
    if missing:
        labels = ", ".join(Category(value).label for value in missing)
        return DisclosureDecision(False, f"The consent does not cover: {labels}.", consent)
    if Category.SUBSTANCE_USE in categories and not consent.part2:
        return DisclosureDecision(
            False,
            "Substance-use information needs a consent that meets 42 CFR Part 2 "
            "(a general release is not enough).",
            consent,
        )
    return DisclosureDecision(True, f"Covered by consent #{consent.pk}.", consent)


def client_search(*, agency, text: str, limit: int = 50) -> list[Client]:
    """Clients whose name sounds like `text` ("smyth" finds Smith). Names are encrypted, so the
    indexed phonetic hash of the last word narrows the rows and the few candidates are compared
    decrypted; the whole agency's clients are never decrypted for a search."""
    words = text.split()
    if not words:
        return []
    sounds = {matching.last_name_sound_hash(word) for word in words} - {""}
    candidates = Client.objects.for_agency(agency).filter(last_name_sound_hash__in=sounds)[:500]
    scored = []
    for client in candidates:
        names = (
            f"{client.first_name} {client.last_name}",
            f"{client.preferred_name} {client.last_name}",
        )
        score = max(matching.name_similarity(text, name) for name in names)
        if len(words) == 1 or score >= 0.6:
            scored.append((score, client))
    scored.sort(key=lambda pair: -pair[0])
    return [client for _, client in scored[:limit]]


CONSENT_RENEWAL_NOTICE = timedelta(days=14)


def consent_due_rows(*, agency, member, until: datetime) -> list[DueRows]:
    """The worklist's "consent expiring" items: consents in force that expire within two weeks
    of `until`, unless the client already has a newer consent for the same recipient. They go
    to the person who recorded the consent (member None: the whole agency)."""
    if member is not None and (member.agency_id != agency.pk or not has_perm(member, Perm.WRITE)):
        return []
    same_recipient = Q(recipient_organization_id=OuterRef("recipient_organization_id")) | (
        Q(recipient_class=OuterRef("recipient_class")) & ~Q(recipient_class="")
    )
    newer = Consent.objects.filter(
        same_recipient,
        client_id=OuterRef("client_id"),
        signed_at__gt=OuterRef("signed_at"),
        revoked_at__isnull=True,
        ended_at__isnull=True,
    )
    expiring = (
        Consent.objects.for_agency(agency)
        .in_force()
        .filter(expires_on__lte=(until + CONSENT_RENEWAL_NOTICE).date())
        .exclude(Exists(newer))
        .select_related("client", "recipient_organization")
        .order_by("expires_on", "pk")
    )
    if member is not None:
        expiring = expiring.filter(recorded_by=member.user_id)
    return [DueRows(expiring, partial(_consent_expiring_item, agency=agency))]


def _consent_expiring_item(consent: Consent, *, agency) -> DueItem:
    return DueItem(
        key=f"consent-expiring:{consent.pk}",
        kind="consent_expiring",
        kind_label="Consent expiring",
        subject=consent.client.display_name,
        reason=f"The consent to share with {consent.recipient_label} expires on "
        f"{consent.expires_on:%b %d, %Y}: ask the client to renew it, or let it lapse.",
        due_at=local_midnight_utc(agency, consent.expires_on) - CONSENT_RENEWAL_NOTICE,
        action_label="Renew consent",
        action_url=reverse("clients:detail", kwargs={"pk": consent.client_id})
        + "#consents-heading",
        owner_id=consent.recorded_by_id,
    )


def safe_contact_rules(client) -> list[str]:
    """The client's safe-contact rules in plain words (the banner shown to anyone who would
    contact them); an empty list means no restrictions were recorded."""
    if client.do_not_contact:
        return ["Do not contact the client"]
    rules = [
        "Voicemail OK" if client.voicemail_ok else "Do not leave voicemail",
        "Texts OK" if client.text_ok else "Do not text",
        "E-mail OK" if client.email_ok else "Do not e-mail",
    ]
    if client.safe_hours:
        rules.append(f"Safe hours: {client.safe_hours}")
    if client.do_not_disclose_location:
        rules.append("Do not disclose the client's location")
    if client.safe_contact_note:
        rules.append(client.safe_contact_note)
    return rules
