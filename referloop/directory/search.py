"""Directory search and match: which services fit a described person, and why.

One function, `directory_search(*, network, query)`, serves the staff directory, the public
directory and the API. It works in four steps, all in SQL except the distance arithmetic:

1. **Hard filters** (a service that fails one is not a result): the network, status active
   (unless `include_inactive`), the text (full-text index, see `fulltext`), the need term, "has
   capacity now", and — when a point or ZIP code is given — a location within the radius: a
   bounding box on the indexed (latitude, longitude), then the great-circle distance, computed
   in SQL (haversine with Django's math functions, which SQLite gets from Django too) so that
   ranking and paging stay in the database.
2. **The count**: exact without a point. With one, counting means measuring every candidate
   (the demo county puts all 50,000 services within one 25-mile circle), so it stops at
   COUNT_CAP (or the page asked for) and the page says "1,000+".
3. **Soft criteria** (age, gender where the program is gender-specific, population, insurance,
   court-ordered, language, and status when inactive services are included) are one SQL
   expression each over columns of the service row — terms and languages through its
   `match_keys` — giving 0 (fits), 1 (unknown) or 1000 (fails). Their sum, `misfit`, ranks the
   results: fewer failures first, then fewer unknowns; then distance, then freshness (the later of
   last verified / capacity updated), then name. With a point and no criteria the page is the
   nearest services, found in a small circle widened until it holds the page (`_page_near`).
   Services with the same `eligibility_key` (a column the database generates from everything
   the criteria read) fit alike, so rather than scoring every candidate, search counts the
   candidates per key, scores one service per key and so knows the tiers of fit and their
   sizes (`_tiers`); the page is then read from the tiers it falls in only — by freshness, or
   nearest first within each tier (`_tiered_page_near`). Candidates of very many distinct keys,
   and near a point no more than COUNT_CAP of them, are scored one by one instead.
4. **The page only** is fetched with its organization, capacities, locations and addresses (and
   languages, when a language is asked; a fixed number of queries whatever the page holds), each
   criterion evaluated again for those rows to write the reasons — from the same expressions, so
   the reasons and the ranking cannot disagree.

Every result says what matched ("✓ ages 18–65"), what failed ("✗ age 17 below minimum 18") and
what could not be checked or is for information ("? court-ordered acceptance unknown").
"""

import functools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import timedelta

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import (
    Cast,
    Greatest,
)
from django.utils import timezone

from referloop.core.errors import DomainError
from referloop.core.policy import AgencyPolicy
from referloop.directory import fulltext
from referloop.directory.models import (
    EPOCH,
    Address,
    Language,
    Location,
    Service,
    ServiceAtLocation,
    ServiceAttribute,
    ServiceCapacity,
    Status,
    TaxonomyTerm,
    service_freshness,
)
from referloop.directory.selectors import postal_code_point
from referloop.directory.vocabulary import NEEDS, PAYMENT, POPULATIONS

DEFAULT_WITHIN_MILES = 25
MAX_WITHIN_MILES = 500
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 10_000
MAX_TEXT = 500
COUNT_CAP = 1000  # a search near a point counts this many results, then says "1,000+"
# Candidates of more distinct eligibility keys than this are scored one by one: listing the keys
# would cost more than it saves.
TIER_KEYS_MAX = 500
EARTH_RADIUS_MILES = 3958.8
# Slightly fewer miles per degree than the true ~69.05, so the box never cuts off an edge.
MILES_PER_DEGREE = 68.7

FITS, UNKNOWN, FAILS = 0, 1, 1000

# Genders a person may be described with, the words a program's `genders_served` may use for
# each (imports are not always tidy), and how a reason names the group.
GENDERS: dict[str, tuple[str, ...]] = {
    "female": ("female", "woman", "women", "girl", "girls"),
    "male": ("male", "man", "men", "boy", "boys"),
    "nonbinary": ("nonbinary", "non-binary"),
}
GENDER_CHOICES = [
    ("female", "Woman or girl"),
    ("male", "Man or boy"),
    ("nonbinary", "Non-binary or another gender"),
]
_GENDER_GROUP = {"female": "women", "male": "men", "nonbinary": "non-binary people"}
_GENDER_PROGRAM = {"female": "women's program", "male": "men's program"}

# ISO 639-1 names of the languages most asked for in US human services.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "tl": "Tagalog",
    "ar": "Arabic",
    "fr": "French",
    "ht": "Haitian Creole",
    "ko": "Korean",
    "ru": "Russian",
    "pt": "Portuguese",
    "de": "German",
    "pl": "Polish",
    "hi": "Hindi",
    "so": "Somali",
    "uk": "Ukrainian",
    "fa": "Persian",
    "hmn": "Hmong",
    "ase": "American Sign Language",
    "sgn": "Sign language",
}
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
# How a fitting payment term reads ("✓ takes Medicaid"); other terms read as their name.
_PAYMENT_PHRASES = {
    "medicaid": "takes Medicaid",
    "medicare": "takes Medicare",
    "private-insurance": "takes private insurance",
    "sliding-fee": "sliding fee scale",
    "self-pay": "self-pay accepted",
    "free": "free of charge",
    "uninsured": "serves uninsured people",
}


@dataclass(frozen=True, slots=True)
class DirectoryQuery:
    """A described person and what they need. Empty strings / None / False mean "not asked"."""

    text: str = ""
    need: str = ""  # a term code of the "Referloop needs" vocabulary
    population: str = ""  # ... of "Referloop populations"
    insurance: str = ""  # ... of "Referloop payment"
    age: int | None = None
    gender: str | None = None  # a key of GENDERS
    court_ordered: bool = False  # the person is court-ordered to treatment
    language: str = ""  # ISO 639 code, e.g. "es"
    near_lat: float | None = None
    near_lon: float | None = None
    postal_code: str = ""  # US ZIP (5 digits, or ZIP+4)
    within_miles: float | None = None  # default DEFAULT_WITHIN_MILES when a point is given
    has_capacity: bool = False
    include_inactive: bool = False
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True, slots=True)
class Origin:
    """The point distances are measured from, and how to name it ("ZIP 62701 (Springfield, IL)")."""

    latitude: float
    longitude: float
    label: str
    within_miles: float


@dataclass(slots=True)
class MatchResult:
    service: Service  # with .organization
    distance_miles: float | None  # to the nearest location, when a point or ZIP was given
    matched: list[str]  # "✓ ages 18–65"
    failed: list[str]  # "✗ age 17 below minimum 18"
    notes: list[str]  # "? court-ordered acceptance unknown", "gender not considered: ..."
    score: int  # 0–100: 100 = everything asked fits; 25 off per failure, 5 per unknown
    location: Location | None = None  # the nearest location (or the first, with no point)
    address: Address | None = None  # its physical address (else its first)
    addresses: list[Address] = field(default_factory=list)  # all of the location's
    capacities: list[ServiceCapacity] = field(default_factory=list)  # by unit
    languages: list[Language] = field(default_factory=list)  # read when a language is asked

    @property
    def failures(self) -> int:
        return len(self.failed)


@dataclass(slots=True)
class SearchPage:
    results: list[MatchResult]
    total: int  # with `more`, a floor: "1,000+ services"
    page: int
    num_pages: int  # the pages `total` fills
    query: DirectoryQuery  # as searched: normalized, with the page clamped to the pages there are
    origin: Origin | None = None
    words: list[str] = field(default_factory=list)  # the words the text search looked for
    # There are more results than `total`: a search near a point counts up to COUNT_CAP (or to
    # the page asked for, if further), as counting further means measuring every candidate.
    more: bool = False

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages or self.more


# --- input -------------------------------------------------------------------------------------


def _clean_text(value) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value or ""))
    return " ".join(text.split())


def _code(value) -> str:
    return _clean_text(value).lower()


def _normalize(query: DirectoryQuery) -> DirectoryQuery:
    """Checks every input a caller may pass and returns the query in canonical form.

    Errors name the input as the web form and the API call it (q, lat, lon, ...)."""
    text = _clean_text(query.text)
    if len(text) > MAX_TEXT:
        raise DomainError(f"Search words: at most {MAX_TEXT} characters.", field="q")
    if len(fulltext.search_words(text)) > fulltext.MAX_WORDS:
        raise DomainError(
            f"Search words: at most {fulltext.MAX_WORDS} words (short ones such as “the” and "
            "“for” aside); every word must match, so fewer find more.",
            field="q",
        )
    age = query.age
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 120
    ):
        raise DomainError("Age must be a whole number from 0 to 120.", field="age")
    gender = _code(query.gender) or None
    if gender is not None and gender not in GENDERS:
        raise DomainError(
            f"Gender must be one of: {', '.join(GENDERS)}.", field="gender", code="invalid_choice"
        )
    language = _code(query.language)
    if language and not LANGUAGE_CODE.match(language):
        raise DomainError(
            "Language must be an ISO 639 code such as 'es' (Spanish).", field="language"
        )
    near_lat, near_lon = query.near_lat, query.near_lon
    if (near_lat is None) != (near_lon is None):
        raise DomainError("Give both latitude and longitude, or neither.", field="lat")
    if near_lat is not None:
        for name, value, limit in (("lat", near_lat, 90), ("lon", near_lon, 180)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DomainError("Enter a number.", field=name)
            if not math.isfinite(value) or not -limit <= value <= limit:
                raise DomainError(f"Must be between -{limit} and {limit}.", field=name)
    postal_code = _clean_text(query.postal_code)
    if postal_code and near_lat is not None:
        raise DomainError("Search near a ZIP code or near a point, not both.", field="postal_code")
    if postal_code and not re.match(r"^\d{5}(-\d{4})?$", postal_code):
        raise DomainError("A ZIP code has 5 digits, e.g. 62701.", field="postal_code")
    within = query.within_miles
    if within is not None:
        if isinstance(within, bool) or not isinstance(within, int | float):
            raise DomainError("Enter a number of miles.", field="within_miles")
        if not math.isfinite(within) or not 0 < within <= MAX_WITHIN_MILES:
            raise DomainError(
                f"Distance must be more than 0 and at most {MAX_WITHIN_MILES} miles.",
                field="within_miles",
            )
    if within is None and (postal_code or near_lat is not None):
        within = DEFAULT_WITHIN_MILES
    page = 1 if query.page is None else query.page
    per_page = DEFAULT_PER_PAGE if query.per_page is None else query.per_page
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise DomainError(f"Page must be a number from 1 to {MAX_PAGE}.", field="page")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= 100:
        raise DomainError(f"Results per page must be from 1 to {MAX_PER_PAGE}.", field="per_page")
    return replace(
        query,
        text=text,
        need=_code(query.need),
        population=_code(query.population),
        insurance=_code(query.insurance),
        age=age,
        gender=gender,
        court_ordered=bool(query.court_ordered),
        language=language,
        near_lat=float(near_lat) if near_lat is not None else None,
        near_lon=float(near_lon) if near_lon is not None else None,
        postal_code=postal_code[:5],
        within_miles=float(within) if within is not None else None,
        has_capacity=bool(query.has_capacity),
        include_inactive=bool(query.include_inactive),
        page=page,
        per_page=per_page,
    )


def _resolve_terms(query: DirectoryQuery) -> dict[str, TaxonomyTerm]:
    """need / population / insurance codes → their terms, in one query; unknown code → error."""
    asked = {
        name: (vocabulary, code)
        for name, vocabulary, code in (
            ("need", NEEDS, query.need),
            ("population", POPULATIONS, query.population),
            ("insurance", PAYMENT, query.insurance),
        )
        if code
    }
    if not asked:
        return {}
    condition = Q()
    for vocabulary, code in asked.values():
        condition |= Q(taxonomy__name=vocabulary, code=code)
    found = {
        (term.taxonomy.name, term.code): term
        # Unordered: the model's default order (taxonomy, name) would be a sort for nothing.
        for term in TaxonomyTerm.objects.filter(condition).select_related("taxonomy").order_by()
    }
    terms = {}
    for name, key in asked.items():
        if key not in found:
            raise DomainError(f"Unknown {name} '{key[1]}'.", field=name, code="invalid_choice")
        terms[name] = found[key]
    return terms


def _resolve_origin(query: DirectoryQuery) -> Origin | None:
    if query.near_lat is not None:
        return Origin(
            query.near_lat,
            query.near_lon,
            f"{query.near_lat:.4f}, {query.near_lon:.4f}",
            query.within_miles,
        )
    if not query.postal_code:
        return None
    point = postal_code_point(code=query.postal_code)
    if point is None:
        raise DomainError(
            f"ZIP code {query.postal_code} is not in the ZIP code table; check it, or search "
            "without a ZIP code.",
            field="postal_code",
            code="unknown_postal_code",
        )
    place = ", ".join(part for part in (point.city, point.state) if part)
    label = f"ZIP {point.code}" + (f" ({place})" if place else "")
    return Origin(point.latitude, point.longitude, label, query.within_miles)


# --- criteria ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Criterion:
    key: str
    expression: object  # an SQL expression: FITS, UNKNOWN or FAILS for each service


def _keyed(key: str) -> Q:
    """The service's `match_keys` hold `key` (see directory.services.match_keys_compose): a LIKE
    on the row being scored, where a join per criterion cost ~25 ms over 50,000 services."""
    return Q(match_keys__contains=f" {key} ")


def _genders_text():
    # The JSON list as text ('["female"]'): a quoted word is one element, on both engines.
    return Cast("genders_served", TextField())


@dataclass(frozen=True, slots=True)
class _Asked:
    """The soft criteria of a search, as much as their SQL depends on: `_compiled`'s key."""

    include_inactive: bool
    age: int | None
    gender: str | None
    population: int | None  # the term's primary key
    insurance: int | None
    court_ordered: bool
    language: str


def _criteria(query: DirectoryQuery, terms: dict[str, TaxonomyTerm]) -> list[_Criterion]:
    """One SQL expression per soft criterion asked, over columns of the service row only."""
    asked = _Asked(
        include_inactive=query.include_inactive,
        age=query.age,
        gender=query.gender,
        population=terms["population"].pk if "population" in terms else None,
        insurance=terms["insurance"].pk if "insurance" in terms else None,
        court_ordered=query.court_ordered,
        language=query.language,
    )
    return list(_compiled(asked, connections[Service.objects.db].vendor))


@functools.lru_cache(maxsize=512)
def _compiled(asked: _Asked, vendor: str) -> tuple[_Criterion, ...]:
    """The criteria as the SQL they compile to, so each query that scores services (the
    ranking, the tiers' samples, the page's reasons) takes them as they are, and compiled once
    per process for each set of criteria. Compiling a CASE of Q objects cost Django about a
    millisecond per criterion per query, more than the database took to evaluate it: the page's
    services query went from 9.8 to 3.5 ms with six criteria. The SQL names its columns with
    the service table's own name, as every one of those queries has it as its base table; the
    expressions are copied by each query that uses them, so sharing them is safe."""
    criteria = _criteria_expressions(asked)
    if not criteria:
        return ()
    query = Service.objects.all()
    if asked.gender:
        query = query.alias(genders_text=_genders_text())
    query = query.annotate(**{f"crit_{c.key}": c.expression for c in criteria}).query
    compiler = query.get_compiler(using=Service.objects.db)
    return tuple(
        _Criterion(
            criterion.key,
            # The SQL is Django's own compilation of our expressions, with its parameters apart.
            RawSQL(  # noqa: S611
                *compiler.compile(query.annotations[f"crit_{criterion.key}"]),
                output_field=IntegerField(),
            ),
        )
        for criterion in criteria
    )


def _criteria_expressions(query: _Asked) -> list[_Criterion]:
    criteria = []
    if query.include_inactive:
        criteria.append(
            _Criterion(
                "status",
                Case(When(status=Status.ACTIVE, then=Value(FITS)), default=Value(FAILS)),
            )
        )
    if query.age is not None:
        criteria.append(
            _Criterion(
                "age",
                Case(
                    When(minimum_age__gt=query.age, then=Value(FAILS)),
                    When(maximum_age__lt=query.age, then=Value(FAILS)),
                    default=Value(FITS),
                ),
            )
        )
    if query.gender:
        accepts = Q()
        for word in GENDERS[query.gender]:
            accepts |= Q(genders_text__icontains=f'"{word}"')
        criteria.append(
            _Criterion(
                "gender",
                Case(
                    # Not gender-specific: gender plays no part (FITS, and the note says so).
                    # The empty list first: most programs are, and it spares them the JSON
                    # cast to text.
                    When(genders_served=[], then=Value(FITS)),
                    When(~Q(genders_text__contains='"'), then=Value(FITS)),
                    When(accepts, then=Value(FITS)),
                    default=Value(FAILS),
                ),
            )
        )
    if query.population is not None:
        criteria.append(
            _Criterion(
                "population",
                Case(
                    When(_keyed(f"t:{query.population}"), then=Value(FITS)),
                    default=Value(UNKNOWN),
                ),
            )
        )
    if query.insurance is not None:
        criteria.append(
            _Criterion(
                "insurance",
                Case(
                    When(_keyed(f"t:{query.insurance}"), then=Value(FITS)),
                    default=Value(FAILS),
                ),
            )
        )
    if query.court_ordered:
        criteria.append(
            _Criterion(
                "court_ordered",
                Case(
                    When(court_ordered_accepted=True, then=Value(FITS)),
                    When(court_ordered_accepted=False, then=Value(FAILS)),
                    default=Value(UNKNOWN),
                ),
            )
        )
    if query.language:
        # "es" is spoken where the service lists "es" or a regional form such as "es-mx"; a
        # service that lists other languages only fails, one that lists none is unknown.
        code = query.language
        speaks = _keyed(f"lang:{code}") | Q(match_keys__contains=f" lang:{code}-")
        criteria.append(
            _Criterion(
                "language",
                Case(
                    When(speaks, then=Value(FITS)),
                    When(_keyed("lang"), then=Value(FAILS)),
                    default=Value(UNKNOWN),
                ),
            )
        )
    return criteria


def _with_criteria(queryset, criteria: list[_Criterion], *, each: bool):
    """Annotates `misfit` (the ranking sum) or, with each=True, one `crit_<key>` per criterion."""
    if each:
        return queryset.annotate(
            **{f"crit_{criterion.key}": criterion.expression for criterion in criteria}
        )
    total = Value(0, output_field=IntegerField())
    for criterion in criteria:
        total = total + criterion.expression
    return queryset.annotate(misfit=total)


def _freshness(*, indexed: bool = True):
    """The freshness to rank by. `indexed=False` gives the same value by an expression the
    `service_fresh_*` indexes do not match: with a text search, walking the index in freshness
    order and testing the full-text match row by row is many times slower than finding the
    matches through the full-text index and sorting them, yet PostgreSQL's LIMIT costing picks
    the walk."""
    freshness = service_freshness()
    if indexed:
        return freshness
    return Greatest(*freshness.source_expressions, Value(EPOCH))


# --- geometry ----------------------------------------------------------------------------------


def great_circle_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in miles."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(origin: Origin, prefix: str = "") -> Q:
    """A lat/long box holding every point within origin.within_miles (antimeridian-aware)."""
    dlat = origin.within_miles / MILES_PER_DEGREE
    south, north = max(-90.0, origin.latitude - dlat), min(90.0, origin.latitude + dlat)
    box = Q(**{f"{prefix}latitude__gte": south, f"{prefix}latitude__lte": north})
    widest = max(abs(south), abs(north))
    if widest >= 89.9:
        return box  # the circle reaches a pole: every longitude
    dlon = origin.within_miles / (MILES_PER_DEGREE * math.cos(math.radians(widest)))
    if dlon >= 180:
        return box
    west, east = origin.longitude - dlon, origin.longitude + dlon
    if west < -180:
        longitudes = Q(**{f"{prefix}longitude__gte": west + 360}) | Q(
            **{f"{prefix}longitude__lte": east}
        )
    elif east > 180:
        longitudes = Q(**{f"{prefix}longitude__gte": west}) | Q(
            **{f"{prefix}longitude__lte": east - 360}
        )
    else:
        longitudes = Q(**{f"{prefix}longitude__gte": west, f"{prefix}longitude__lte": east})
    return box & longitudes


# --- the search --------------------------------------------------------------------------------


def _column_filtered(*, network, query: DirectoryQuery):
    """The hard filters on the service's own columns: what `_key_samples` can follow."""
    services = Service.objects.all()
    if network is not None:
        services = services.filter(network=network)
    if not query.include_inactive:
        services = services.filter(status=Status.ACTIVE)
    if query.has_capacity:
        services = services.filter(has_capacity=True)
    return services


def _hard_filtered(services, *, terms, words):
    """`_column_filtered` services narrowed to the need and the words asked."""
    if "need" in terms:
        services = services.filter(
            pk__in=ServiceAttribute.objects.filter(term=terms["need"]).values("service_id")
        )
    if words:
        services = services.filter(fulltext.text_filter(words))
    return services


def _ranked(services, criteria, origin: Origin | None, *, words, miles=None):
    """The candidates in rank order — fit first when criteria are asked, then distance (within
    `miles`, default the radius, each with its `distance`), freshness and name.

    With no point, no text and no criteria, PostgreSQL reads the page in order from a
    `service_fresh_*` index and stops after it."""
    order = ["-freshness", "name", "pk"]
    if origin is not None:
        order.insert(0, "distance")
    if criteria:
        services = _with_criteria(services, criteria, each=False)
        order.insert(0, "misfit")
    if origin is not None:
        services = _within(services, origin, miles or origin.within_miles)
    return services.alias(freshness=_freshness(indexed=not words)).order_by(*order)


@dataclass(slots=True)
class _Tier:
    """The candidates that fit equally well: their eligibility keys and how many they are (0
    when they were not counted)."""

    misfit: int
    keys: list[str]
    count: int


def _tiers(services, criteria: list[_Criterion], *, counted: bool = True) -> list[_Tier] | None:
    """`services` grouped by fit, best first, without scoring each one: services with the same
    `eligibility_key` fit alike, so one query (`_scored_keys`) counts the candidates per key (an
    index-only scan on PostgreSQL, as cheap as counting them) — or, `counted=False`, only finds
    the keys — and scores a sample service per key with the criteria's expressions, the very
    ones the reasons are read from. None when the candidates have more than TIER_KEYS_MAX
    keys."""
    scored = _scored_keys(services, criteria, counted=counted)
    if len(scored) > TIER_KEYS_MAX:
        return None
    tiers: dict[int, _Tier] = {}
    for key, count, misfit in scored:
        tier = tiers.setdefault(misfit, _Tier(misfit, [], 0))
        tier.keys.append(key)
        tier.count += count
    return [tiers[misfit] for misfit in sorted(tiers)]


def _scored_keys(services, criteria: list[_Criterion], *, counted: bool) -> list[tuple]:
    """The eligibility keys of `services`, up to TIER_KEYS_MAX + 1 of them, as (key, count,
    misfit): grouped and counted, or found by a loose index scan (`_key_samples`, count 0); each
    scored on one of its services, in the same query."""
    connection = connections[services.db]
    try:
        if counted:
            grouped = (
                services.order_by()
                .values("eligibility_key")
                .annotate(count=Count("pk"), sample=Min("pk"))
                .values_list("eligibility_key", "count", "sample")[: TIER_KEYS_MAX + 1]
            )
            keys, params = grouped.query.get_compiler(connection=connection).as_sql()
        else:
            keys, params = _key_samples(services, connection)
    except EmptyResultSet:
        return []
    # The ranking's own `misfit` (`_with_criteria`), compiled; it names the service table's
    # columns (see `_compiled`), joined here by the sample.
    scoring = _with_criteria(Service.objects.all(), criteria, each=False).query
    misfit, misfit_params = scoring.get_compiler(connection=connection).compile(
        scoring.annotations["misfit"]
    )
    quote = connection.ops.quote_name
    table = quote(Service._meta.db_table)
    sql = f"""
        SELECT tier_key.{quote("eligibility_key")}, tier_key.{quote("count")}, {misfit}
        FROM ({keys}) tier_key
        INNER JOIN {table} ON {table}.{quote(Service._meta.pk.column)} = tier_key.{quote("sample")}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*misfit_params, *params])
        return cursor.fetchall()


def _key_samples(services, connection) -> tuple[str, list]:
    """The SQL of the eligibility keys of `services` (active ones, of one network or of all,
    and plain column filters only), each with one of its services as `sample` and a `count` of
    0, up to TIER_KEYS_MAX + 1 of them: a loose index scan, which jumps from one key to the next
    along `service_search_tiers` (`service_public_tiers` across networks). Grouping reads every
    index entry instead (20 ms over the large demo's 50,000 services, for its 34 keys); a search
    near a point counts each tier's members within the radius apart, so it needs the keys
    alone. Raises EmptyResultSet when the filters can match nothing."""
    query = services.order_by().query
    try:
        where, params = query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:  # no filter at all
        where, params = "1 = 1", []
    quote = connection.ops.quote_name
    table, key = quote(Service._meta.db_table), quote("eligibility_key")
    pk = quote(Service._meta.pk.column)
    # Table and column names come from the model; the filters are compiled with parameters.
    sql = f"""
        WITH RECURSIVE tier_keys (k, n) AS (
            SELECT MIN({key}), 1 FROM {table} WHERE {where}
            UNION ALL
            SELECT (SELECT MIN({key}) FROM {table} WHERE {where} AND {key} > k), n + 1
            FROM tier_keys WHERE k IS NOT NULL AND n <= %s
        )
        SELECT k AS {key}, 0 AS {quote("count")},
            (SELECT {pk} FROM {table} WHERE {where} AND {key} = k LIMIT 1) AS {quote("sample")}
        FROM tier_keys WHERE k IS NOT NULL
    """  # noqa: S608
    return sql, [*params, *params, TIER_KEYS_MAX, *params]


def _tiered_page(services, tiers: list[_Tier], start: int, stop: int, *, words):
    """The rows start..stop of the ranking (fit, then freshness and name) as [(pk,)]: from the
    tiers the page falls in only. Within one tier the order is freshness alone, which
    PostgreSQL can read in order from a `service_fresh_*` index."""
    chosen, offset, before = [], 0, 0
    for tier in tiers:
        if before < stop and before + tier.count > start:
            if not chosen:
                offset = start - before  # where the page starts in the first tier it takes
            chosen.append(tier)
        before += tier.count
    if not chosen:
        return []
    ranked = services.filter(eligibility_key__in=[key for tier in chosen for key in tier.keys])
    order = ["-freshness", "name", "pk"]
    if len(chosen) > 1:
        fit = [When(eligibility_key__in=tier.keys, then=Value(tier.misfit)) for tier in chosen]
        ranked = ranked.alias(misfit=Case(*fit))
        order.insert(0, "misfit")
    ranked = ranked.alias(freshness=_freshness(indexed=not words)).order_by(*order)
    return ranked.values_list("pk")[offset : offset + stop - start]


def _counted_page(ranked, query: DirectoryQuery, *fields):
    """One page of `ranked` as (*fields) rows and the total, counted by a window in the same
    query. A page past the last one shows the last page instead (one more query)."""
    ranked = ranked.annotate(total=Window(Count("pk")))
    page = query.page
    while True:
        start = (page - 1) * query.per_page
        rows = list(ranked.values_list(*fields, "total")[start : start + query.per_page])
        if rows or page == 1:
            break
        first = list(ranked.values_list("total", flat=True)[:1])
        page = max(1, math.ceil(first[0] / query.per_page)) if first else 1
    total = rows[0][-1] if rows else 0
    return [row[:-1] for row in rows], total, page


class _MilesFrom(Func):
    """Great-circle (haversine) miles from a fixed point to a (latitude, longitude) pair, in SQL.

    One expression node with the point's constants folded in: built from Django's math
    functions it was some forty nodes, and resolving and compiling them, several times a search,
    cost more than the database took to evaluate them. SQLite gets the math functions from
    Django, so both engines compute the same number."""

    output_field = FloatField()

    def __init__(self, origin: Origin, latitude, longitude):
        super().__init__(latitude, longitude)
        self.origin = origin

    def as_sql(self, compiler, connection, **extra_context):
        (lat, lat_params), (lon, lon_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        lat0, lon0 = math.radians(self.origin.latitude), math.radians(self.origin.longitude)
        least = "MIN" if connection.vendor == "sqlite" else "LEAST"  # SQLite's scalar MIN
        half_dlat = f"SIN((RADIANS({lat}) - %s) / 2.0)"
        half_dlon = f"SIN((RADIANS({lon}) - %s) / 2.0)"
        sql = (
            f"(%s * ASIN({least}(1.0, SQRT({half_dlat} * {half_dlat} + "
            f"%s * COS(RADIANS({lat})) * {half_dlon} * {half_dlon}))))"
        )
        params = (
            2 * EARTH_RADIUS_MILES,
            *lat_params,
            lat0,
            *lat_params,
            lat0,
            math.cos(lat0),
            *lat_params,
            *lon_params,
            lon0,
            *lon_params,
            lon0,
        )
        return sql, params


def _distance_miles(origin: Origin, prefix: str = ""):
    return _MilesFrom(origin, F(f"{prefix}latitude"), F(f"{prefix}longitude"))


def _count_near(services, origin: Origin, limit: int) -> int:
    """How many of `services` have a location within the radius — counting no further than
    `limit` + 1: the per-service EXISTS lets PostgreSQL stop there, where an exact count has to
    measure every candidate (the demo county puts all 50,000 services within 25 miles of its
    middle: ~100 ms for the distances alone)."""
    located = (
        ServiceAtLocation.objects.filter(bounding_box(origin))
        .alias(distance=_distance_miles(origin))
        .filter(service=OuterRef("pk"), distance__lte=origin.within_miles)
    )
    return services.filter(Exists(located)).order_by().values("pk")[: limit + 1].count()


def _within(services, origin: Origin, miles: float):
    """`services` with a location within `miles` of `origin`, each with the `distance` to its
    nearest one: a bounding box on the indexed lat/long (the copy each service-at-location
    keeps of its location's), then the exact distance, grouped per service."""
    prefix = "service_at_locations__"
    circle = replace(origin, within_miles=miles)
    return (
        services.filter(bounding_box(circle, prefix=prefix))
        .annotate(distance=Min(_distance_miles(origin, prefix)))
        .filter(distance__lte=miles)
    )


def _page_near(services, origin: Origin, start: int, stop: int, *, counted: int, more: bool):
    """Ranked by distance alone, the rows start..stop as {id: miles}: the nearest candidates.

    Look first in the circle that would hold `stop` of the `counted` candidates were they
    spread evenly (half its radius when there are `more`, how many more unknown), and double
    its radius until it holds the page. Every candidate outside a circle is farther than every
    one inside it, so the page is the one ranking them all would give, for a fraction of the
    distances."""
    miles = origin.within_miles * min(1.0, math.sqrt(stop / counted)) / (2 if more else 1)
    while True:
        ranked = _ranked(services, [], origin, words=[], miles=min(miles, origin.within_miles))
        rows = list(ranked.values_list("pk", "distance")[start:stop])
        if len(rows) == stop - start or miles >= origin.within_miles:
            return dict(rows)
        miles *= 2


def _nearest_counted(services, origin: Origin, start: int, stop: int) -> tuple[dict, int]:
    """Ranked by distance, the rows start..stop as {id: miles}, and how many of `services` are
    within the radius: in one query (a window counts them) that measures every one — for
    candidates narrowed by a need or words, a few thousand at most."""
    ranked = _ranked(services, [], origin, words=[]).annotate(total=Window(Count("pk")))
    rows = list(ranked.values_list("pk", "distance", "total")[start:stop])
    if rows:
        return {pk: miles for pk, miles, _ in rows}, rows[0][2]
    # No row from `start` on: there are `start` or fewer, which a count up to there finds.
    return {}, _count_near(services, origin, start) if start else 0


def _tiered_page_near(
    services, tiers: list[_Tier], origin: Origin, start: int, stop: int, *, narrowed: bool
):
    """Ranked by fit, then distance, the rows start..stop as [(pk, miles)]: tier by tier, best
    first, each tier's nearest (`_page_near`) after counting — no further than the page needs —
    how many of it are within the radius, so no more distances are measured than the page
    takes, where ranking every candidate measures them all. A `narrowed` tier has few members:
    one query measures them all, ranks and counts them (`_nearest_counted`), where counting and
    then widening circles took three."""
    rows, before = {}, 0
    for tier in tiers:
        if before >= stop:
            break
        members = services.filter(eligibility_key__in=tier.keys)
        if narrowed:
            page, counted = _nearest_counted(members, origin, max(0, start - before), stop - before)
            rows.update(page)
            before += counted
            continue
        # Counting up to the cap (not just the page) sizes _page_near's first circle well.
        limit = max(COUNT_CAP, stop - before)
        counted = _count_near(members, origin, limit)
        if counted and before + counted > start:
            rows.update(
                _page_near(
                    members,
                    origin,
                    max(0, start - before),
                    stop - before,
                    counted=min(counted, limit),
                    more=counted > limit,
                )
            )
        before += counted
    return rows.items()


@dataclass(slots=True)
class _Listing:
    """A service of the page with the rows its result shows."""

    service: Service
    capacities: list[ServiceCapacity] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    languages: list[Language] = field(default_factory=list)


def _page_listings(ids: list[int], criteria) -> tuple[dict[int, _Listing], dict[int, list]]:
    """The page's services (with each criterion's outcome) and their capacities, locations — and
    the locations' addresses, by location — in four queries, and their languages in a fifth when
    a language is asked (only its reasons name them). Grouped here rather than by
    prefetch_related, whose queryset per object and relation cost more than the queries did."""
    if not ids:
        return {}, {}
    services = _with_criteria(
        Service.objects.filter(pk__in=ids).select_related("organization"), criteria, each=True
    )
    listings = {service.pk: _Listing(service) for service in services}
    capacities = ServiceCapacity.objects.filter(service_id__in=ids)
    for capacity in capacities.order_by("unit", "name", "pk"):
        if listing := listings.get(capacity.service_id):
            listing.capacities.append(capacity)
    located = (
        Location.objects.filter(service_at_locations__service_id__in=ids)
        .annotate(listing_id=F("service_at_locations__service_id"))
        .order_by("service_at_locations__pk")
    )
    for location in located:
        if listing := listings.get(location.listing_id):
            listing.locations.append(location)
    addresses = defaultdict(list)
    location_ids = {location.pk for listing in listings.values() for location in listing.locations}
    for address in Address.objects.filter(location_id__in=location_ids).order_by("pk"):
        addresses[address.location_id].append(address)
    if any(criterion.key == "language" for criterion in criteria):
        for language in Language.objects.filter(service_id__in=ids).order_by("pk"):
            if listing := listings.get(language.service_id):
                listing.languages.append(language)
    return listings, addresses


def directory_search(
    *, network, query: DirectoryQuery, capacity_stale_days: int | None = None
) -> SearchPage:
    """Searches the directory of `network` (None: every network — the public directory).

    Raises DomainError (with the input's name as `field`) for input it cannot use: an unknown
    need/population/insurance code, a ZIP code not in the table, out-of-range numbers. Never
    raises for any free text. `capacity_stale_days` (default: the policy default, 7) decides
    when a bed count is old enough to say so.
    """
    query = _normalize(query)
    terms = _resolve_terms(query)
    origin = _resolve_origin(query)
    words = fulltext.search_words(query.text)
    columns_only = _column_filtered(network=network, query=query)
    services = _hard_filtered(columns_only, terms=terms, words=words)
    criteria = _criteria(query, terms)
    fields = ["pk"] if origin is None else ["pk", "distance"]
    more = False
    narrowed = "need" in terms or bool(words)
    every_one_ranked = origin is None and (bool(criteria) or bool(words))
    # Ranked by fit: by tiers of fit, counted per eligibility key, rather than scoring each one.
    tiers = _tiers(services, criteria) if criteria and origin is None else None
    if tiers is not None:
        total = sum(tier.count for tier in tiers)
        page = min(query.page, max(1, math.ceil(total / query.per_page)))
        start = (page - 1) * query.per_page
        rows = _tiered_page(services, tiers, start, start + query.per_page, words=words)
    elif narrowed and every_one_ranked:
        # A few thousand candidates at most, each to be scored or sorted anyway: one query ranks
        # and counts them. (Over every service, the window would sort them all instead of
        # keeping just the page: those searches count apart.)
        rows, total, page = _counted_page(
            _ranked(services, criteria, origin, words=words), query, *fields
        )
    else:
        # Near a point each tier's members are counted within the radius apart, so its keys
        # alone will do: found by a loose scan where it can follow an index of active services'
        # keys (service_search_tiers for a network's, service_public_tiers for every network's)
        # — over the column filters only, a need or words would make each of its steps a search.
        # Keys none of the candidates has make tiers that count none.
        by_index = not query.include_inactive
        # The count first, so a page past the last one can show the last page instead.
        if origin is None:
            counted = total = services.count()
        else:
            limit = max(COUNT_CAP, query.page * query.per_page)
            counted = _count_near(services, origin, limit)
            total, more = min(counted, limit), counted > limit
        page = query.page if more else min(query.page, max(1, math.ceil(total / query.per_page)))
        start, stop = (page - 1) * query.per_page, page * query.per_page
        if not total:
            rows = []
        elif origin is not None and not criteria:
            rows = _page_near(services, origin, start, stop, counted=counted, more=more).items()
        elif (
            # Candidates the count reached the end of are few enough for one query to score
            # and rank them all (the last branch); beyond, the tiers spare measuring them all.
            origin is not None
            and more
            and (
                tiers := _tiers(columns_only, criteria, counted=False)
                if by_index
                else _tiers(services, criteria)
            )
        ):
            rows = _tiered_page_near(services, tiers, origin, start, stop, narrowed=narrowed)
        else:
            ranked = _ranked(services, criteria, origin, words=words)
            rows = ranked.values_list(*fields)[start:stop]
    rows = list(rows)
    num_pages = max(1, math.ceil(total / query.per_page))
    ids = [row[0] for row in rows]
    nearest = {row[0]: row[1] for row in rows} if origin is not None else {}
    listings, addresses = _page_listings(ids, criteria)
    stale_days = capacity_stale_days or AgencyPolicy().capacity_stale_days
    now = timezone.now()
    results = []
    for pk in ids:
        listing = listings.get(pk)
        if listing is None:  # deleted between the two queries
            continue
        results.append(
            _explain(
                listing,
                addresses,
                query=query,
                terms=terms,
                words=words,
                criteria=criteria,
                distance=nearest.get(pk),
                origin=origin,
                now=now,
                stale_days=stale_days,
            )
        )
    return SearchPage(
        results=results,
        total=total,
        page=page,
        num_pages=num_pages,
        more=more,
        query=replace(query, page=page),
        origin=origin,
        words=words,
    )


# --- reasons -----------------------------------------------------------------------------------


def _lower_first(name: str) -> str:
    # "Veterans" → "veterans", but "LGBTQ+" stays as it is.
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


def _singular(unit: str, count: int) -> str:
    return unit[:-1] if count == 1 and unit.endswith("s") else unit


def gender_groups(genders_served) -> list[str]:
    """Whom a gender-specific program serves, as people say it ("men", "women"): the codes and
    the words imported listings use ("Male", "girls") alike, each group once."""
    groups = []
    for value in filter(None, genders_served or []):
        value = str(value).strip().lower()
        key = next((name for name, words in GENDERS.items() if value in words), None)
        group = _GENDER_GROUP.get(key, value) if key else value
        if group and group not in groups:
            groups.append(group)
    return groups


def _gender_reason(service: Service, gender: str, outcome: int, reasons) -> None:
    groups = gender_groups(service.genders_served)
    if not groups:
        reasons.notes.append("gender not considered: the program is open to all genders")
        return
    if outcome == FITS:
        single = len(groups) == 1 and gender in _GENDER_PROGRAM
        reasons.matched.append(
            f"✓ {_GENDER_PROGRAM[gender]}" if single else f"✓ program for {' and '.join(groups)}"
        )
    else:
        reasons.failed.append(f"✗ serves {' and '.join(groups)} only")


def _age_reason(service: Service, age: int, reasons) -> None:
    low, high = service.minimum_age, service.maximum_age
    if low is not None and age < low:
        reasons.failed.append(f"✗ age {age} below minimum {low}")
    elif high is not None and age > high:
        reasons.failed.append(f"✗ age {age} above maximum {high}")
    elif low is not None and high is not None:
        reasons.matched.append(f"✓ ages {low}–{high}")
    elif low is not None:
        reasons.matched.append(f"✓ ages {low} and up")
    elif high is not None:
        reasons.matched.append(f"✓ ages up to {high}")
    else:
        reasons.matched.append("✓ no age limits listed")


def _language_name(code: str, languages: list[Language]) -> str:
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    for language in languages:
        if language.code.lower() == code and language.name:
            return language.name
    return code


def _explain(
    listing: _Listing,
    addresses,
    *,
    query,
    terms,
    words,
    criteria,
    distance,
    origin,
    now,
    stale_days,
) -> MatchResult:
    service = listing.service
    reasons = MatchResult(
        service=service,
        distance_miles=None,
        matched=[],
        failed=[],
        notes=[],
        score=100,
        capacities=listing.capacities,
        languages=listing.languages,
    )
    if words:
        shown = query.text if len(query.text) <= 60 else query.text[:57] + "…"
        reasons.matched.append(f"✓ matches '{shown}'")
    if "need" in terms:
        reasons.matched.append(f"✓ {terms['need'].name}")
    unknowns = 0
    for criterion in criteria:
        outcome = getattr(service, f"crit_{criterion.key}")
        unknowns += outcome == UNKNOWN
        if criterion.key == "status":
            if outcome == FAILS:
                reasons.failed.append(f"✗ {service.get_status_display().lower()}")
        elif criterion.key == "age":
            _age_reason(service, query.age, reasons)
        elif criterion.key == "gender":
            _gender_reason(service, query.gender, outcome, reasons)
        elif criterion.key == "population":
            name = _lower_first(terms["population"].name)
            if outcome == FITS:
                reasons.matched.append(f"✓ serves {name}")
            else:
                reasons.notes.append(f"? does not list {name} among the people it serves")
        elif criterion.key == "insurance":
            term = terms["insurance"]
            if outcome == FITS:
                reasons.matched.append(f"✓ {_PAYMENT_PHRASES.get(term.code, term.name)}")
            else:
                reasons.failed.append(f"✗ does not list {term.name}")
        elif criterion.key == "court_ordered":
            if outcome == FITS:
                reasons.matched.append("✓ accepts court-ordered clients")
            elif outcome == FAILS:
                reasons.failed.append("✗ does not accept court-ordered clients")
            else:
                reasons.notes.append("? court-ordered acceptance unknown")
        elif criterion.key == "language":
            name = _language_name(query.language, listing.languages)
            if outcome == FITS:
                reasons.matched.append(f"✓ {name}")
            elif outcome == FAILS:
                offered = ", ".join(
                    _language_name(language.code.lower(), listing.languages)
                    if language.code
                    else language.name
                    for language in listing.languages
                )
                reasons.failed.append(f"✗ no {name} listed (offers {offered})")
            else:
                reasons.notes.append(f"? languages not listed: {name} unknown")
    _capacity_reasons(listing.capacities, reasons, now=now, stale_days=stale_days)
    locations = listing.locations
    location = next(iter(locations), None)
    if origin is not None:
        located = [
            loc for loc in locations if loc.latitude is not None and loc.longitude is not None
        ]
        location = min(
            located,
            key=lambda loc: great_circle_miles(
                origin.latitude, origin.longitude, loc.latitude, loc.longitude
            ),
            default=location,
        )
    if distance is not None:
        reasons.distance_miles = round(distance, 1)
        reasons.matched.append(f"✓ {distance:.1f} mi away")
    reasons.location = location
    reasons.addresses = addresses.get(location.pk, []) if location is not None else []
    reasons.address = next(
        (address for address in reasons.addresses if address.address_type == "physical"),
        next(iter(reasons.addresses), None),
    )
    reasons.score = max(0, 100 - 25 * len(reasons.failed) - 5 * unknowns)
    return reasons


def _capacity_reasons(capacities, reasons, *, now, stale_days: int) -> None:
    for capacity in capacities:
        unit = capacity.label
        if capacity.available > 0:
            reasons.matched.append(
                f"✓ {capacity.available} {_singular(unit, capacity.available)} available"
            )
        elif capacity.waitlist:
            reasons.notes.append(f"no {unit} free now: waitlist")
        else:
            reasons.notes.append(f"no {unit} free now")
        age = now - capacity.updated_at
        if age > timedelta(days=stale_days):
            reasons.notes.append(
                f"? {_singular(unit, 1)} count is {age.days} days old (may be out of date)"
            )
