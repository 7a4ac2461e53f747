"""Reads for intake: the agency's rules and profile, the facts a screening gives (including how
it fits our own services), the recommendations from the directory, who is on intake, the lists
and the worklist's "inquiry without owner"."""

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db.models import Count, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from referloop.core.due import DueItem, DueRows
from referloop.core.errors import DomainError
from referloop.core.models import Membership
from referloop.core.timeutils import agency_zone
from referloop.directory.models import Service, ServiceCapacity
from referloop.directory.search import DirectoryQuery, MatchResult, directory_search, gender_groups
from referloop.directory.vocabulary import NEEDS
from referloop.intake import rules as triage
from referloop.intake.models import Inquiry, IntakeProfile, IntakeShift, Status, TriageRule

RECOMMENDATIONS_PER_NEED = 3
SEVERITY_ORDER = list(triage.SEVERITIES)
# Words that name a format in a listing, so a contraindicated format is never recommended.
FORMAT_WORDS = {
    "couples": re.compile(r"\b(couples?|marriage|marital)\b", re.IGNORECASE),
    "family": re.compile(r"\bfamily (therapy|counseling)\b", re.IGNORECASE),
    "group": re.compile(r"\bgroup (therapy|counseling)\b", re.IGNORECASE),
    "individual": re.compile(r"\bindividual (therapy|counseling)\b", re.IGNORECASE),
}


# --- configuration ------------------------------------------------------------------------------


def agency_rules(*, agency) -> list[dict]:
    """The agency's rule set in order; the shipped defaults until it saves its own."""
    stored = [row.as_rule() for row in TriageRule.objects.for_agency(agency).order_by("position")]
    return stored or [triage.rule_clean(rule) for rule in triage.DEFAULT_RULES]


def agency_profile(*, agency) -> IntakeProfile:
    """The stored profile, or the default one (unsaved): every format, adults and adolescents."""
    profile = IntakeProfile.objects.for_agency(agency).first()
    return profile or IntakeProfile(
        agency=agency,
        formats=list(triage.FORMATS),
        age_groups=["adult", "adolescent"],
        specialties=[],
    )


def agency_shifts(*, agency) -> list[IntakeShift]:
    return list(IntakeShift.objects.for_agency(agency).select_related("user"))


def on_intake(*, agency, at: datetime | None = None):
    """Who is on intake at `at` (now): the first shift covering that time, or None."""
    local = timezone.localtime(at or timezone.now(), agency_zone(agency))
    shift = (
        IntakeShift.objects.for_agency(agency)
        .filter(
            weekday=local.isoweekday(),
            starts_at__lte=local.time(),
            ends_at__gt=local.time(),
            user__is_active=True,
            user__memberships__agency=agency,
            user__memberships__is_active=True,
        )
        .select_related("user")
        .order_by("starts_at", "id")
        .first()
    )
    return shift.user if shift else None


# --- facts --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InHouse:
    """How the request fits our own services: the in-house facts, and the listings behind them."""

    facts: dict
    services: tuple  # our own active listings for the need


def _own_services(agency, need: str) -> list[Service]:
    return list(
        Service.objects.filter(
            agency=agency,
            status="active",
            attributes__term__code=need,
            attributes__term__taxonomy__name=NEEDS,
        )
        .prefetch_related(Prefetch("capacities", queryset=ServiceCapacity.objects.order_by("id")))
        .distinct()
        .order_by("name")
    )


def _fits_age(service: Service, age: int | None, group: str) -> bool:
    low, high = (age, age) if age is not None else triage.AGE_RANGES[group]
    return (service.minimum_age is None or high >= service.minimum_age) and (
        service.maximum_age is None or low <= service.maximum_age
    )


def in_house_fit(*, agency, screening) -> InHouse:
    """The in-house facts for a cleaned screening (intake.services.ScreeningData)."""
    profile = agency_profile(agency=agency)
    own = _own_services(agency, screening.need)
    for_age = [s for s in own if _fits_age(s, screening.age, screening.age_group)]
    # A listing that counts its places has an opening only with one free; one that does not
    # count them is open while we say we accept new clients.
    open_now = (
        [s for s in for_age if s.has_capacity or not list(s.capacities.all())]
        if profile.accepting_new
        else [s for s in for_age if s.has_capacity]
    )
    facts = {
        "we_offer_service": bool(own),
        "we_serve_population": screening.age_group in profile.age_groups
        and bool(for_age or not own),
        "we_have_competency": screening.service_format in profile.formats
        and set(screening.specialties) <= set(profile.specialties),
        # Without a listing for the request, the facts above already say so: no second reason.
        "we_have_capacity": bool(open_now) or not for_age,
        "we_cover_severity": SEVERITY_ORDER.index(screening.severity)
        <= SEVERITY_ORDER.index(profile.max_severity),
        "we_are_court_qualified": profile.court_qualified
        or any(s.court_ordered_accepted for s in own),
    }
    return InHouse(facts=facts, services=tuple(own))


def screening_facts(screening, in_house: InHouse) -> dict:
    return {
        "imminent_risk": screening.suicidal_risk or screening.homicidal_risk,
        "domestic_violence": screening.domestic_violence,
        "substance_use": screening.substance_use,
        "detox_needed": screening.detox_needed,
        "legal_involvement": screening.legal_involvement,
        "court_or_forensic": screening.court_ordered or screening.forensic_evaluation,
        "service_format": screening.service_format,
        "age_group": screening.age_group,
        "severity": screening.severity,
        **in_house.facts,
    }


def screening_words(screening) -> dict:
    return {
        "need": triage.NEED_NAMES.get(screening.need, screening.need).lower(),
        "format": triage.FORMATS[screening.service_format],
        "age_group": screening.age_group,
    }


# --- recommendations -----------------------------------------------------------------------------


@dataclass(slots=True)
class Recommendation:
    result: MatchResult
    notes: list[str]  # what intake adds: eligibility by gender, court qualification


@dataclass(slots=True)
class NeedOptions:
    need: str
    label: str
    before_admission: bool
    recommendations: list[Recommendation] = field(default_factory=list)
    note: str = ""  # e.g. why the list is empty


@dataclass(slots=True)
class Triage:
    decision: triage.Decision
    in_house: InHouse
    options: list[NeedOptions]
    facts: dict


def need_label(need: str, *, service_format: str, request_need: str, contraindicated) -> str:
    """How a need to refer out for is named to staff: DV services "for each party" when a
    couple asked, the request itself "individual, not couples" when that format is ruled out."""
    name = triage.NEED_NAMES.get(need, need)
    if need == "domestic-violence":
        each = " — for each party" if service_format == "couples" else ""
        return f"Individual domestic-violence-specific services{each}"
    if need == request_need and contraindicated:
        return f"{name} — individual, not {' or '.join(contraindicated)}"
    return name


def _search(agency, query: DirectoryQuery) -> tuple[list[MatchResult], str]:
    try:
        return directory_search(network=agency.network, query=query).results, ""
    except DomainError as error:
        if error.field != "postal_code":
            raise
    found = directory_search(network=agency.network, query=replace(query, postal_code="")).results
    return found, f"ZIP {query.postal_code} is not in the ZIP table: distances are not shown."


def _mentions(service: Service, words: str) -> bool:
    text = f"{service.name} {service.alternate_name} {service.description}".lower()
    return words.lower() in text


def _recommendation(
    result: MatchResult, *, decision: triage.Decision, specialties
) -> Recommendation:
    notes = []
    for code in specialties:
        label = triage.SPECIALTIES[code][0]
        notes.append(
            f"✓ mentions {label}"
            if _mentions(result.service, label)
            else f"? {label} not listed: ask the provider"
        )
    groups = gender_groups(result.service.genders_served)
    if groups:
        # Gender was not asked and is not matched on: the program's own eligibility is.
        notes.append(
            f"The program's eligibility is by gender (serves {' and '.join(groups)} only): "
            "check it with the person; it was not used to rank."
        )
    if decision.only_qualified:
        notes.append("Accepts court-ordered clients.")
    return Recommendation(result=result, notes=notes)


def _acceptable(result: MatchResult, *, agency, decision: triage.Decision) -> bool:
    service = result.service
    if service.agency_id == agency.pk:
        return False  # our own listings are the in-house side, not a referral
    if decision.only_qualified and service.court_ordered_accepted is not True:
        return False
    text = f"{service.name} {service.alternate_name} {service.description[:300]}"
    return not any(FORMAT_WORDS[fmt].search(text) for fmt in decision.contraindicated)


def recommendations(*, agency, screening, decision: triage.Decision) -> list[NeedOptions]:
    """For each need to refer out for, the best-fitting directory services with their reasons.
    Only eligibility the programs themselves set is matched (age, language, payment, court
    orders); gender is never asked for, and a program limited by gender says so."""
    options = []
    for need in decision.refer_needs:
        query = DirectoryQuery(
            need=need,
            age=screening.age,
            language=screening.language,
            insurance=screening.insurance,
            postal_code=screening.postal_code,
            court_ordered=decision.only_qualified,
            per_page=RECOMMENDATIONS_PER_NEED * 4,
        )
        results, note = _search(agency, query)
        labels = [triage.SPECIALTIES[code][0] for code in screening.specialties]
        acceptable = [r for r in results if _acceptable(r, agency=agency, decision=decision)]
        # Among equally fitting services, those that name the specialties asked for come first.
        acceptable.sort(
            key=lambda r: (-r.score, -sum(_mentions(r.service, label) for label in labels))
        )
        kept = [
            _recommendation(result, decision=decision, specialties=screening.specialties)
            for result in acceptable[:RECOMMENDATIONS_PER_NEED]
        ]
        if not kept:
            note = "No service in the directory fits yet: widen the search in the directory."
        options.append(
            NeedOptions(
                need=need,
                label=need_label(
                    need,
                    service_format=screening.service_format,
                    request_need=screening.need,
                    contraindicated=decision.contraindicated,
                ),
                before_admission=need in decision.first_needs,
                recommendations=kept,
                note=note,
            )
        )
    return options


def triage_screening(*, agency, screening, with_recommendations: bool = True) -> Triage:
    """Decides a cleaned screening by the agency's rules, with the recommendations to offer."""
    in_house = in_house_fit(agency=agency, screening=screening)
    facts = screening_facts(screening, in_house)
    decision = triage.decide(
        agency_rules(agency=agency),
        facts,
        request_need=screening.need,
        words=screening_words(screening),
    )
    options = (
        recommendations(agency=agency, screening=screening, decision=decision)
        if with_recommendations
        else []
    )
    return Triage(decision=decision, in_house=in_house, options=options, facts=facts)


# --- lists and the worklist ----------------------------------------------------------------------


def inquiry_list(*, agency, status: str = "", owner=None, outcome: str = "", unassigned=False):
    rows = Inquiry.objects.for_agency(agency).select_related("owner")
    if status:
        rows = rows.filter(status=status)
    if outcome:
        rows = rows.filter(outcome=outcome)
    if unassigned:
        rows = rows.filter(owner__isnull=True)
    elif owner is not None:
        rows = rows.filter(owner=owner)
    return rows.order_by("-received_at", "-id")


# The information-and-referral sheet: what was asked and decided, no one's name or contact.
INQUIRY_SHEET_HEADERS = [
    "Inquiry",
    "Received",
    "Channel",
    "Service requested",
    "Format",
    "Age group",
    "Severity",
    "Decision",
    "Rules fired",
    "Options offered",
    "Referrals sent",
    "Status",
    "Owner",
]


def inquiry_sheet_rows(rows, zone):
    counted = rows.annotate(
        offered=Count("options"),
        referred=Count("options", filter=Q(options__referral__isnull=False)),
    )
    for inquiry in counted.iterator(chunk_size=500):
        yield [
            inquiry.pk,
            timezone.localtime(inquiry.received_at, zone).strftime("%Y-%m-%d %H:%M"),
            inquiry.get_channel_display(),
            triage.NEED_NAMES.get(inquiry.need, inquiry.need),
            inquiry.get_service_format_display(),
            inquiry.get_age_group_display(),
            inquiry.get_severity_display(),
            inquiry.get_outcome_display(),
            "; ".join(rule["name"] for rule in inquiry.fired),
            inquiry.offered,
            inquiry.referred,
            inquiry.get_status_display(),
            str(inquiry.owner) if inquiry.owner else "",
        ]


def inquiry_options(*, inquiry: Inquiry) -> list:
    return list(
        inquiry.options.select_related("service", "organization", "referral").order_by("position")
    )


def inquiry_option(*, inquiry: Inquiry, pk: int):
    """One option offered in the inquiry (None if the inquiry has no such option)."""
    option = (
        inquiry.options.select_related("service", "organization", "referral").filter(pk=pk).first()
    )
    if option is not None:
        option.inquiry = inquiry
    return option


def _unassigned_item(inquiry: Inquiry) -> DueItem:
    urgent = "Urgent — imminent risk. " if inquiry.urgent else ""
    return DueItem(
        key=f"inquiry-unassigned:{inquiry.pk}",
        kind="inquiry_unassigned",
        kind_label="Inquiry without owner",
        subject=f"Inquiry {inquiry.pk} ({inquiry.get_channel_display().lower()})",
        reason=f"{urgent}Nobody was on intake when it came in: assign it to someone.",
        due_at=inquiry.received_at,
        action_label="Assign",
        action_url=reverse("intake:detail", args=[inquiry.pk]),
    )


def _urgent_item(inquiry: Inquiry) -> DueItem:
    return DueItem(
        key=f"inquiry-urgent:{inquiry.pk}",
        kind="inquiry_urgent",
        kind_label="Inquiry at imminent risk",
        subject=f"Inquiry {inquiry.pk} ({inquiry.get_channel_display().lower()})",
        reason="Imminent risk: make sure the crisis pathway happened, then record the outcome.",
        due_at=inquiry.received_at,
        action_label="Open the inquiry",
        action_url=reverse("intake:detail", args=[inquiry.pk]),
        owner_id=inquiry.owner_id,
    )


def due_rows(*, agency, member: Membership | None, until: datetime) -> list[DueRows]:
    """The worklist source: open inquiries nobody owns are the whole agency's (member None);
    an owner sees their open inquiries at imminent risk until the outcome is recorded."""
    if member is not None and member.agency_id != agency.pk:
        return []
    rows = Inquiry.objects.for_agency(agency).filter(status=Status.OPEN, received_at__lte=until)
    if member is None:
        unowned = rows.filter(owner__isnull=True).order_by("received_at", "id")
        return [DueRows(unowned, _unassigned_item)]
    urgent = rows.filter(owner=member.user_id, urgent=True).order_by("received_at", "id")
    return [DueRows(urgent, _urgent_item)]
