"""Triage rules as data, and the engine that reads them (seed 001: put the person first).

A rule is a plain dict: `when` (facts and the values they must have — all must hold; no `when`
means always), one `action` with its `parameter`, and the `explanation` staff and auditors read.
The engine is pure: facts in, a `Decision` out, no database — so the same code decides on the
intake page, in the API and in the tests, and `ruleset_check` can prove on save that every
possible screening gets a decision.

Every rule that matches fires, in order; their effects combine:
- `crisis` wins over everything: the crisis pathway is shown first and the owner is alerted;
- `contraindicate` takes a service format off the table (it is never served nor recommended);
- `refer_first` / `recommend` add a need to refer out for (before admission / alongside);
- `only_qualified` keeps recommendations to providers that take court-ordered clients;
- `refer_out` sends the request itself out; `serve_in_house` keeps it unless a `refer_out`
  fired or its format is contraindicated.
The outcome is crisis, in house, refer out, or both; "undecided" is what validation forbids.
"""

import itertools
import re
from dataclasses import dataclass

from referloop.directory.vocabulary import NEEDS, VOCABULARIES

YES_NO = (True, False)
FORMATS = {
    "individual": "individual",
    "couples": "couples",
    "family": "family",
    "group": "group",
}
AGE_GROUPS = {"adult": "adult (18+)", "adolescent": "adolescent (13–17)", "child": "child (0–12)"}
AGE_RANGES = {"adult": (18, 130), "adolescent": (13, 17), "child": (0, 12)}
SEVERITIES = {"mild": "mild", "moderate": "moderate", "severe": "severe"}
# Specialties a request may need, with the age groups each is for (None: any).
SPECIALTIES = {
    "play-therapy": ("play therapy", {"child"}),
    "geriatric": ("geriatric", {"adult"}),
    "trauma": ("trauma-focused", None),
    "grief": ("grief and loss", None),
    "eating-disorders": ("eating disorders", None),
    "perinatal": ("perinatal", {"adult", "adolescent"}),
    "lgbtq-affirming": ("LGBTQ+-affirming", None),
    "dv-specific": ("domestic-violence-specific", None),
}
NEED_NAMES = dict(VOCABULARIES[NEEDS][1])


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    values: tuple  # the values a rule may ask for, in the order they are shown

    def value_label(self, value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return {**FORMATS, **AGE_GROUPS, **SEVERITIES}.get(value, str(value))


# What a rule may look at: the screening's answers, then how the request fits our own services
# (computed by intake.selectors from the agency's listings and intake profile).
FACTS: dict[str, Fact] = {
    "imminent_risk": Fact("Imminent suicidal or homicidal risk", YES_NO),
    "domestic_violence": Fact("Domestic violence", YES_NO),
    "substance_use": Fact("Substance use", YES_NO),
    "detox_needed": Fact("Needs detox / withdrawal management", YES_NO),
    "legal_involvement": Fact("Legal or court involvement", YES_NO),
    "court_or_forensic": Fact("Court-ordered treatment or forensic evaluation", YES_NO),
    "service_format": Fact("Service format requested", tuple(FORMATS)),
    "age_group": Fact("Age group", tuple(AGE_GROUPS)),
    "severity": Fact("Severity", tuple(SEVERITIES)),
    "we_offer_service": Fact("We offer the service requested", YES_NO),
    "we_serve_population": Fact("We serve this age group", YES_NO),
    "we_have_competency": Fact("We have the format and specialties asked for", YES_NO),
    "we_have_capacity": Fact("We have an opening now", YES_NO),
    "we_cover_severity": Fact("Our coverage fits the severity", YES_NO),
    "we_are_court_qualified": Fact("We are contracted or qualified for court work", YES_NO),
}

CRISIS = "crisis"
CONTRAINDICATE = "contraindicate"
REFER_FIRST = "refer_first"
RECOMMEND = "recommend"
ONLY_QUALIFIED = "only_qualified"
REFER_OUT = "refer_out"
SERVE = "serve_in_house"
ACTIONS = {
    CRISIS: "Crisis pathway first, urgent alert to the owner",
    CONTRAINDICATE: "Rule out a service format (parameter: the format)",
    REFER_FIRST: "Refer out first, before admission (parameter: the need)",
    RECOMMEND: "Also recommend services for a need (parameter: the need)",
    ONLY_QUALIFIED: "Recommend only providers that take court-ordered clients",
    REFER_OUT: "Refer the request out",
    SERVE: "Serve in house",
}
PARAMETERS = {CONTRAINDICATE: FORMATS, REFER_FIRST: NEED_NAMES, RECOMMEND: NEED_NAMES}

OUTCOME_CRISIS, OUTCOME_IN_HOUSE, OUTCOME_REFER_OUT, OUTCOME_BOTH = (
    "crisis",
    "in_house",
    "refer_out",
    "both",
)
UNDECIDED = "undecided"
OUTCOMES = {
    OUTCOME_CRISIS: "Crisis pathway first",
    OUTCOME_IN_HOUSE: "Serve in house",
    OUTCOME_REFER_OUT: "Refer out",
    OUTCOME_BOTH: "Serve in house and refer out",
}
# What an explanation may name: filled in from the screening when the decision is made.
PLACEHOLDERS = {
    "need": "the service requested",
    "format": "the format requested",
    "age_group": "the age group",
    "parameter": "the rule's parameter, as people say it",
}
_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")


def _rule(name, when, action, explanation, parameter=""):
    return {
        "name": name,
        "when": when,
        "action": action,
        "parameter": parameter,
        "explanation": explanation,
    }


DEFAULT_RULES = [
    _rule(
        "Imminent risk: crisis first",
        {"imminent_risk": True},
        CRISIS,
        "Imminent suicidal or homicidal risk: crisis stabilization comes before anything else. "
        "If anyone is in immediate danger, call 911. Otherwise connect the person with 988 "
        "(call or text), or arrange a hospital evaluation now — stay with them on the line "
        "until they are connected. The intake owner is alerted.",
    ),
    _rule(
        "Domestic violence: no couples therapy",
        {"domestic_violence": True, "service_format": ["couples"]},
        CONTRAINDICATE,
        "Couples therapy is contraindicated when there is domestic violence: it can put the "
        "person at risk. Each party needs individual services instead.",
        "couples",
    ),
    _rule(
        "Domestic violence: DV-specific services",
        {"domestic_violence": True},
        RECOMMEND,
        "Domestic violence: recommend individual, domestic-violence-specific services — for "
        "each party when a couple asked — with safety planning.",
        "domestic-violence",
    ),
    _rule(
        "Detox before admission",
        {"detox_needed": True},
        REFER_FIRST,
        "Withdrawal management comes before admission: refer to {parameter} first; admission "
        "can follow once the person is medically stable.",
        "detox",
    ),
    _rule(
        "Court work: qualified providers only",
        {"court_or_forensic": True},
        ONLY_QUALIFIED,
        "Court-ordered treatment or a forensic evaluation: only providers contracted or "
        "qualified for court work are recommended.",
    ),
    _rule(
        "Court work we are not qualified for",
        {"court_or_forensic": True, "we_are_court_qualified": False},
        REFER_OUT,
        "We are not contracted or qualified for court-ordered or forensic work, so the "
        "request is referred to a provider that is.",
    ),
    _rule(
        "A service we do not offer",
        {"we_offer_service": False},
        REFER_OUT,
        "We do not offer {need}: refer out to a provider that does.",
    ),
    _rule(
        "An age group we do not serve",
        {"we_serve_population": False},
        REFER_OUT,
        "We do not serve {age_group} clients for {need}: refer out.",
    ),
    _rule(
        "Outside our competencies",
        {"we_have_competency": False},
        REFER_OUT,
        "The format ({format}) or a specialty asked for is outside our competencies: refer out "
        "to someone trained for it.",
    ),
    _rule(
        "No opening now",
        {"we_have_capacity": False},
        REFER_OUT,
        "We have no opening for {need} right now: refer out rather than make the person wait.",
    ),
    _rule(
        "Severity beyond our coverage",
        {"we_cover_severity": False},
        REFER_OUT,
        "The severity is beyond the coverage we can provide: refer to a higher level of care.",
    ),
    _rule(
        "Otherwise: we are the right provider",
        {},
        SERVE,
        "We offer {need} for {age_group} clients, have the competency and an opening: serve "
        "in house.",
    ),
]


class RuleError(ValueError):
    """A rule (or rule set) that cannot be used; `index` is the rule's place (0-based)."""

    def __init__(self, message: str, *, index: int | None = None, field: str = "rules"):
        super().__init__(message)
        self.message, self.index, self.field = message, index, field


# --- one rule -------------------------------------------------------------------------------


def _condition_values(fact: Fact, expected) -> tuple:
    values = expected if isinstance(expected, list) else [expected]
    if not values:
        raise ValueError("needs at least one value")
    for value in values:
        if value not in fact.values or isinstance(value, bool) != isinstance(fact.values[0], bool):
            shown = ", ".join(fact.value_label(v) for v in fact.values)
            raise ValueError(f"{value!r} is not one of: {shown}")
    return tuple(dict.fromkeys(values))


def rule_clean(rule: dict, *, index: int | None = None) -> dict:
    """The rule with its values checked and normalised; RuleError names what is wrong."""

    def fail(message, field):
        where = f"Rule {index + 1}: " if index is not None else ""
        raise RuleError(where + message, index=index, field=field)

    if not isinstance(rule, dict):
        fail("a rule is an object with name, when, action, parameter and explanation.", "rules")
    unknown = set(rule) - {"name", "when", "action", "parameter", "explanation", "is_active"}
    if unknown:
        fail(f"unknown key {sorted(unknown)[0]!r}.", "rules")
    name = " ".join(str(rule.get("name") or "").split())
    if not name or len(name) > 120:
        fail("give the rule a name of at most 120 characters.", "name")
    when = rule.get("when") or {}
    if not isinstance(when, dict):
        fail("'when' maps facts to the values they must have.", "when")
    cleaned_when = {}
    for fact_name, expected in when.items():
        fact = FACTS.get(fact_name)
        if fact is None:
            fail(f"unknown fact {fact_name!r} (known: {', '.join(FACTS)}).", "when")
        try:
            values = _condition_values(fact, expected)
        except ValueError as error:
            fail(f"{fact.label}: {error}.", "when")
        cleaned_when[fact_name] = values[0] if isinstance(values[0], bool) else list(values)
    action = rule.get("action")
    if action not in ACTIONS:
        fail(f"unknown action {action!r} (known: {', '.join(ACTIONS)}).", "action")
    parameter = str(rule.get("parameter") or "").strip()
    allowed = PARAMETERS.get(action)
    if allowed is None and parameter:
        fail(f"the action {action} takes no parameter.", "parameter")
    if allowed is not None and parameter not in allowed:
        fail(f"the action {action} needs one of: {', '.join(allowed)}.", "parameter")
    explanation = " ".join(str(rule.get("explanation") or "").split())
    if not explanation or len(explanation) > 1000:
        fail("explain the rule in plain words (at most 1000 characters).", "explanation")
    for placeholder in _PLACEHOLDER.findall(explanation):
        if placeholder not in PLACEHOLDERS:
            fail(
                f"the explanation names {{{placeholder}}}; it may name "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                + ".",
                "explanation",
            )
    return {
        "name": name,
        "when": cleaned_when,
        "action": action,
        "parameter": parameter,
        "explanation": explanation,
        "is_active": bool(rule.get("is_active", True)),
    }


def _holds(expected, actual) -> bool:
    return actual in expected if isinstance(expected, list) else actual == expected


def rule_matches(rule: dict, facts: dict) -> bool:
    return all(_holds(expected, facts[name]) for name, expected in rule["when"].items())


# --- deciding -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fired:
    name: str
    action: str
    parameter: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str  # one of OUTCOMES, or UNDECIDED (which a checked rule set never gives)
    fired: tuple[Fired, ...]
    urgent: bool
    serve_in_house: bool
    refer_needs: tuple[str, ...]  # needs to refer out for, first ones (before admission) first
    first_needs: tuple[str, ...]  # those to refer to before admission
    contraindicated: tuple[str, ...]  # formats ruled out
    only_qualified: bool

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, "Undecided")


def _explained(text: str, fired_parameter: str, words: dict) -> str:
    values = {**words, "parameter": NEED_NAMES.get(fired_parameter, fired_parameter).lower()}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def decide(
    rules: list[dict], facts: dict, *, request_need: str = "", words: dict | None = None
) -> Decision:
    """The decision `rules` (cleaned, in order) give for `facts` (every FACTS name).
    `request_need` is the need the request itself is for (what a refer-out sends out); `words`
    fills the explanations' placeholders."""
    words = words or {}
    fired = [rule for rule in rules if rule.get("is_active", True) and rule_matches(rule, facts)]
    actions = [rule["action"] for rule in fired]
    contraindicated = tuple(
        dict.fromkeys(r["parameter"] for r in fired if r["action"] == CONTRAINDICATE)
    )
    first = tuple(dict.fromkeys(r["parameter"] for r in fired if r["action"] == REFER_FIRST))
    also = [r["parameter"] for r in fired if r["action"] == RECOMMEND]
    refer_request = REFER_OUT in actions
    serve = (
        SERVE in actions and not refer_request and facts["service_format"] not in contraindicated
    )
    needs = list(first) + ([request_need] if refer_request else []) + also
    refer_needs = tuple(dict.fromkeys(need for need in needs if need))
    if CRISIS in actions:
        outcome = OUTCOME_CRISIS
    elif serve and refer_needs:
        outcome = OUTCOME_BOTH
    elif serve:
        outcome = OUTCOME_IN_HOUSE
    elif refer_needs:
        outcome = OUTCOME_REFER_OUT
    else:
        outcome = UNDECIDED
    return Decision(
        outcome=outcome,
        fired=tuple(
            Fired(
                r["name"],
                r["action"],
                r["parameter"],
                _explained(r["explanation"], r["parameter"], words),
            )
            for r in fired
        ),
        urgent=CRISIS in actions,
        serve_in_house=serve,
        refer_needs=refer_needs,
        first_needs=first,
        contraindicated=contraindicated,
        only_qualified=ONLY_QUALIFIED in actions,
    )


# --- the whole set --------------------------------------------------------------------------


def consistent(facts: dict) -> bool:
    """Answers a screening can give together (intake.services refuses the others)."""
    if facts.get("detox_needed") and facts.get("substance_use") is False:
        return False
    if facts.get("court_or_forensic") and facts.get("legal_involvement") is False:
        return False
    return not (facts.get("service_format") == "couples" and facts.get("age_group") in ("child",))


def _undecided_case(rules: list[dict]) -> dict | None:
    """A consistent combination of facts no rule decides, or None. Facts no rule names cannot
    change the decision, so only the named ones are enumerated."""
    named = [name for name in FACTS if any(name in rule["when"] for rule in rules)]
    if "service_format" not in named:
        named.append("service_format")  # `serve_in_house` reads it
    defaults = {name: FACTS[name].values[0] for name in FACTS}
    for values in itertools.product(*(FACTS[name].values for name in named)):
        facts = {**defaults, **dict(zip(named, values, strict=True))}
        if not consistent(facts):
            continue
        if _undecided(rules, facts):
            return _essential(rules, facts, named)
    return None


def _undecided(rules, facts) -> bool:
    return decide(rules, facts, request_need="counseling").outcome == UNDECIDED


def _essential(rules, facts: dict, named: list[str]) -> dict:
    """The case, without the facts whose every value leaves it undecided (they do not matter)."""
    case = dict(facts)
    kept = {}
    for name in named:
        others = [{**case, name: value} for value in FACTS[name].values]
        if all(_undecided(rules, other) for other in others if consistent(other)):
            continue
        kept[name] = facts[name]
    return kept


def ruleset_clean(rules: list) -> list[dict]:
    """Every rule checked, then the set: unique names, and a decision for every combination."""
    if not isinstance(rules, list) or not rules:
        raise RuleError("A rule set needs at least one rule.")
    if len(rules) > 100:
        raise RuleError("A rule set has at most 100 rules.")
    cleaned = [rule_clean(rule, index=index) for index, rule in enumerate(rules)]
    seen = {}
    for index, rule in enumerate(cleaned):
        if rule["name"].lower() in seen:
            raise RuleError(
                f"Rule {index + 1}: the name {rule['name']!r} is used by rule "
                f"{seen[rule['name'].lower()] + 1} already.",
                index=index,
                field="name",
            )
        seen[rule["name"].lower()] = index
    active = [rule for rule in cleaned if rule["is_active"]]
    case = _undecided_case(active)
    if case is not None:
        described = "; ".join(
            f"{FACTS[name].label.lower()} = {FACTS[name].value_label(value)}"
            for name, value in case.items()
        )
        raise RuleError(
            f"These rules leave some screenings undecided, e.g. when {described}. Add a rule "
            "that serves in house or refers out for them (a rule with no conditions catches "
            "every case).",
        )
    return cleaned


def describe_when(when: dict) -> str:
    """A rule's conditions as people read them: "Domestic violence: yes · Format: couples"."""
    if not when:
        return "Always (when no earlier rule decides otherwise)"
    parts = []
    for name, expected in when.items():
        fact = FACTS[name]
        values = expected if isinstance(expected, list) else [expected]
        parts.append(f"{fact.label}: {' or '.join(fact.value_label(v) for v in values)}")
    return " · ".join(parts)
