"""The triage rule engine with the shipped rules: every default rule, their combinations (crisis
wins over everything; DV + couples never keeps or recommends couples therapy; a request we serve
with capacity stays in house), every possible screening decided with explanations, and the
checks a rule set gets on save."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referloop.intake import rules as triage

DEFAULTS = triage.ruleset_clean(triage.DEFAULT_RULES)

# A request we can serve: no risk, nothing special, every in-house fact true.
BASE = {
    "imminent_risk": False,
    "domestic_violence": False,
    "substance_use": False,
    "detox_needed": False,
    "legal_involvement": False,
    "court_or_forensic": False,
    "service_format": "individual",
    "age_group": "adult",
    "severity": "moderate",
    "we_offer_service": True,
    "we_serve_population": True,
    "we_have_competency": True,
    "we_have_capacity": True,
    "we_cover_severity": True,
    "we_are_court_qualified": False,
}
WORDS = {"need": "counseling", "format": "individual", "age_group": "adult"}


def _decide(rules=DEFAULTS, **overrides):
    return triage.decide(rules, {**BASE, **overrides}, request_need="counseling", words=WORDS)


def _fired(decision):
    return [fired.name for fired in decision.fired]


# (what the caller said, the facts that differ from BASE, outcome, rules fired, needs referred)
TABLE = [
    (
        "a request we serve with an opening",
        {},
        "in_house",
        ["Otherwise: we are the right provider"],
        (),
    ),
    (
        "imminent suicidal or homicidal risk",
        {"imminent_risk": True},
        "crisis",
        ["Imminent risk: crisis first", "Otherwise: we are the right provider"],
        (),
    ),
    (
        "domestic violence, couples requested",
        {"domestic_violence": True, "service_format": "couples"},
        "refer_out",
        [
            "Domestic violence: no couples therapy",
            "Domestic violence: DV-specific services",
            "Otherwise: we are the right provider",
        ],
        ("domestic-violence",),
    ),
    (
        "domestic violence, individual requested",
        {"domestic_violence": True},
        "both",
        ["Domestic violence: DV-specific services", "Otherwise: we are the right provider"],
        ("domestic-violence",),
    ),
    (
        "needs detox first",
        {"substance_use": True, "detox_needed": True},
        "both",
        ["Detox before admission", "Otherwise: we are the right provider"],
        ("detox",),
    ),
    (
        "court-ordered, we are qualified",
        {"legal_involvement": True, "court_or_forensic": True, "we_are_court_qualified": True},
        "in_house",
        ["Court work: qualified providers only", "Otherwise: we are the right provider"],
        (),
    ),
    (
        "court-ordered, we are not qualified",
        {"legal_involvement": True, "court_or_forensic": True},
        "refer_out",
        [
            "Court work: qualified providers only",
            "Court work we are not qualified for",
            "Otherwise: we are the right provider",
        ],
        ("counseling",),
    ),
    (
        "a service we do not offer",
        {"we_offer_service": False},
        "refer_out",
        ["A service we do not offer", "Otherwise: we are the right provider"],
        ("counseling",),
    ),
    (
        "an age group we do not serve",
        {"age_group": "child", "we_serve_population": False},
        "refer_out",
        ["An age group we do not serve", "Otherwise: we are the right provider"],
        ("counseling",),
    ),
    (
        "a specialty we lack",
        {"we_have_competency": False},
        "refer_out",
        ["Outside our competencies", "Otherwise: we are the right provider"],
        ("counseling",),
    ),
    (
        "no opening now",
        {"we_have_capacity": False},
        "refer_out",
        ["No opening now", "Otherwise: we are the right provider"],
        ("counseling",),
    ),
    (
        "more severe than our coverage",
        {"severity": "severe", "we_cover_severity": False},
        "refer_out",
        ["Severity beyond our coverage", "Otherwise: we are the right provider"],
        ("counseling",),
    ),
    (
        "detox, and no opening",
        {"substance_use": True, "detox_needed": True, "we_have_capacity": False},
        "refer_out",
        ["Detox before admission", "No opening now", "Otherwise: we are the right provider"],
        ("detox", "counseling"),
    ),
    (
        "DV couples, and a service we do not offer",
        {"domestic_violence": True, "service_format": "couples", "we_offer_service": False},
        "refer_out",
        [
            "Domestic violence: no couples therapy",
            "Domestic violence: DV-specific services",
            "A service we do not offer",
            "Otherwise: we are the right provider",
        ],
        ("counseling", "domestic-violence"),
    ),
    (
        "crisis with every other flag",
        {
            "imminent_risk": True,
            "domestic_violence": True,
            "service_format": "couples",
            "substance_use": True,
            "detox_needed": True,
            "legal_involvement": True,
            "court_or_forensic": True,
            "we_have_capacity": False,
        },
        "crisis",
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("said", "facts", "outcome", "fired", "needs"), TABLE, ids=[row[0] for row in TABLE]
)
def test_each_default_rule_and_its_combinations(said, facts, outcome, fired, needs):
    decision = _decide(**facts)
    assert decision.outcome == outcome, said
    if fired is not None:
        assert _fired(decision) == fired
    if needs is not None:
        assert decision.refer_needs == needs
    assert all(f.explanation and "{" not in f.explanation for f in decision.fired)


def test_the_detox_referral_comes_before_admission():
    decision = _decide(substance_use=True, detox_needed=True, we_have_capacity=False)
    assert decision.first_needs == ("detox",)
    assert decision.refer_needs[0] == "detox"
    detox = next(f for f in decision.fired if f.name == "Detox before admission")
    assert "refer to detox / withdrawal management first" in detox.explanation


def test_court_work_keeps_recommendations_to_qualified_providers():
    assert _decide(legal_involvement=True, court_or_forensic=True).only_qualified
    assert not _decide().only_qualified


def _every_screening():
    names = list(triage.FACTS)
    for values in itertools.product(*(triage.FACTS[name].values for name in names)):
        facts = dict(zip(names, values, strict=True))
        if triage.consistent(facts):
            yield facts


def test_over_every_possible_screening_the_defaults_decide_and_hold_their_promises():
    count = 0
    for facts in _every_screening():
        count += 1
        decision = triage.decide(DEFAULTS, facts, request_need="counseling", words=WORDS)
        assert decision.outcome in triage.OUTCOMES
        assert decision.fired
        if facts["imminent_risk"]:
            assert decision.outcome == "crisis"
            assert decision.urgent
        else:
            assert not decision.urgent
        if facts["domestic_violence"] and facts["service_format"] == "couples":
            assert not decision.serve_in_house
            assert "couples" in decision.contraindicated
            assert "domestic-violence" in decision.refer_needs
        in_house = all(facts[name] for name in triage.FACTS if name.startswith("we_")) or (
            not facts["court_or_forensic"]
            and all(
                facts[name]
                for name in triage.FACTS
                if name.startswith("we_") and name != "we_are_court_qualified"
            )
        )
        plain = not any(
            facts[name] for name in ("imminent_risk", "domestic_violence", "detox_needed")
        )
        if in_house and plain:
            assert decision.outcome == "in_house", facts
    assert count > 10_000


screenings = st.fixed_dictionaries(
    {name: st.sampled_from(fact.values) for name, fact in triage.FACTS.items()}
).filter(triage.consistent)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(facts=screenings, need=st.sampled_from(sorted(triage.NEED_NAMES)))
def test_any_valid_screening_gets_a_decision_with_explanations(facts, need):
    decision = triage.decide(
        DEFAULTS, facts, request_need=need, words={**WORDS, "need": triage.NEED_NAMES[need]}
    )
    assert decision.outcome in triage.OUTCOMES
    assert decision.fired and all(f.explanation for f in decision.fired)
    assert all("{" not in f.explanation for f in decision.fired)
    if not facts["imminent_risk"] and decision.outcome != "in_house":
        assert decision.refer_needs


# --- checking a rule set ----------------------------------------------------------------------


def _without(name):
    return [rule for rule in triage.DEFAULT_RULES if rule["name"] != name]


def test_a_set_that_leaves_dv_couples_undecided_is_refused_with_the_case():
    with pytest.raises(triage.RuleError) as refused:
        triage.ruleset_clean(_without("Domestic violence: DV-specific services"))
    assert "undecided" in refused.value.message
    assert "domestic violence = yes" in refused.value.message
    assert "service format requested = couples" in refused.value.message


def test_a_set_without_its_catch_all_is_refused():
    with pytest.raises(triage.RuleError, match="undecided"):
        triage.ruleset_clean(_without("Otherwise: we are the right provider"))


def test_an_inactive_rule_does_not_count_towards_deciding():
    rules = [dict(rule) for rule in triage.DEFAULT_RULES]
    rules[-1]["is_active"] = False
    with pytest.raises(triage.RuleError, match="undecided"):
        triage.ruleset_clean(rules)


def _one(**changes):
    rule = {**triage.DEFAULT_RULES[-1], **changes}
    return [*triage.DEFAULT_RULES[:-1], rule]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"when": {"mood": True}}, "when", "unknown fact 'mood'"),
        ({"when": {"service_format": ["poetry"]}}, "when", "'poetry' is not one of"),
        ({"when": {"imminent_risk": "yes"}}, "when", "'yes' is not one of"),
        ({"when": {"service_format": []}}, "when", "needs at least one value"),
        ({"action": "teleport"}, "action", "unknown action 'teleport'"),
        ({"action": "recommend", "parameter": ""}, "parameter", "needs one of"),
        ({"action": "recommend", "parameter": "spaceflight"}, "parameter", "needs one of"),
        ({"parameter": "couples"}, "parameter", "takes no parameter"),
        ({"explanation": "  "}, "explanation", "explain the rule"),
        ({"explanation": "We serve {who}."}, "explanation", "names {who}"),
        ({"name": ""}, "name", "give the rule a name"),
        ({"colour": "red"}, "rules", "unknown key 'colour'"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_the_field(changes, field, words):
    with pytest.raises(triage.RuleError) as refused:
        triage.ruleset_clean(_one(**changes))
    assert refused.value.field == field
    assert refused.value.message.startswith(f"Rule {len(triage.DEFAULT_RULES)}: ")
    assert words in refused.value.message


def test_names_are_unique_and_a_set_is_not_empty():
    with pytest.raises(triage.RuleError, match="is used by rule 1 already"):
        triage.ruleset_clean([*triage.DEFAULT_RULES, triage.DEFAULT_RULES[0]])
    with pytest.raises(triage.RuleError, match="at least one rule"):
        triage.ruleset_clean([])


def test_conditions_read_as_people_say_them():
    assert triage.describe_when({"domestic_violence": True, "service_format": ["couples"]}) == (
        "Domestic violence: yes · Service format requested: couples"
    )
    assert triage.describe_when({}).startswith("Always")
