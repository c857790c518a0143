"""trustdesk.fraud.rules: every rule type, bands, thresholds, validation before storing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from trustdesk.fraud.defaults import DEFAULT_RULE_SET
from trustdesk.fraud.rules import (
    HIGH,
    LOW,
    MEDIUM,
    TRUSTED,
    CompiledRuleSet,
    Rule,
    RuleSet,
    RuleSetInvalid,
    Thresholds,
    flatten,
    rule_set_from_json,
    validate,
)
from trustdesk.fraud.rulesets import sample_features

FEATURES = sample_features()


def features(**changes: Any) -> dict[str, Any]:
    """The sample feature set with ``group__name=value`` changes."""
    changed = copy.deepcopy(FEATURES)
    for key, value in changes.items():
        group, name = key.split("__", 1)
        if "__" in name:
            kind, window = name.split("__")
            changed[group][kind][window] = value
        else:
            changed[group][name] = value
    return changed


def run(rules: list[Rule], thresholds: Thresholds | None = None, **changes: Any) -> Any:
    rule_set = RuleSet(tuple(rules), thresholds or Thresholds())
    validate(rule_set, FEATURES)
    return CompiledRuleSet(rule_set).evaluate(features(**changes))


def test_a_weighted_rule_adds_its_weight_when_it_fires() -> None:
    rules = [Rule("big", "order.amount_yen >= 50000", 30)]
    assert run(rules, order__amount_yen=60000).score == 30
    quiet = run(rules, order__amount_yen=1000)
    assert (quiet.score, quiet.band, quiet.reasons) == (0, LOW, [])


def test_weights_add_up_and_the_thresholds_give_the_band() -> None:
    rules = [
        Rule("known_email", "known.email", 40),
        Rule("burst", "velocity.email.h1 >= 3", 30),
    ]
    limits = Thresholds(high=60, medium=25, trusted=-20)
    assert run(rules, limits, known__email=True).band == MEDIUM
    both = run(rules, limits, known__email=True, velocity__email__h1=3)
    assert (both.score, both.band) == (70, HIGH)
    assert [reason["rule"] for reason in both.reasons] == ["known_email", "burst"]


def test_a_negative_weight_makes_an_order_trusted() -> None:
    rules = [Rule("repeat", "history.legitimate_d30 >= 1", -30)]
    verdict = run(rules, history__legitimate_d30=2)
    assert (verdict.score, verdict.band) == (-30, TRUSTED)


def test_a_forced_band_wins_over_the_score() -> None:
    rules = [
        Rule("vip", "order.email_domain == 'mail.example.jp'", band=TRUSTED),
        Rule("big", "order.amount_yen > 0", 100),
    ]
    verdict = run(rules)
    assert (verdict.score, verdict.band) == (100, TRUSTED)
    assert verdict.reasons[0] == {"type": "rule", "rule": "vip", "weight": 0, "band": TRUSTED}


def test_the_riskiest_forced_band_wins() -> None:
    rules = [
        Rule("vip", "true", band=TRUSTED),
        Rule("stolen_card", "known.card", band=HIGH),
        Rule("check", "order.amount_yen > 1000", band=MEDIUM),
    ]
    assert run(rules, known__card=True).band == HIGH
    assert run(rules).band == MEDIUM


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, HIGH),
        (60, HIGH),
        (59, MEDIUM),
        (25, MEDIUM),
        (24, LOW),
        (0, LOW),
        (-19, LOW),
        (-20, TRUSTED),
    ],
)
def test_threshold_edges(score: int, band: str) -> None:
    assert Thresholds(high=60, medium=25, trusted=-20).band(score) == band


def test_a_rule_failing_at_run_time_does_not_fire_and_is_reported() -> None:
    rules = [Rule("ratio", "order.amount_yen / order.quantity > 1000", 10)]
    verdict = run(rules, order__quantity=0)
    assert verdict.score == 0
    assert verdict.reasons[0]["type"] == "rule_error"
    assert verdict.reasons[0]["rule"] == "ratio"


def test_rules_read_strings_lists_and_macros() -> None:
    rules = [
        Rule("domain", "order.email_domain.endsWith('.jp')", 1),
        Rule("bin", "order.card_bin in ['411111', '555555']", 2),
        Rule("night", "order.hour_jst >= 1 && order.hour_jst < 5", 4),
    ]
    assert run(rules).score == 3


def test_the_default_rule_set_is_valid_and_scores_the_sample_low() -> None:
    validate(DEFAULT_RULE_SET, FEATURES)
    verdict = CompiledRuleSet(DEFAULT_RULE_SET).evaluate(FEATURES)
    assert verdict.band == LOW


def test_a_known_card_forces_high_in_the_default_rules() -> None:
    verdict = CompiledRuleSet(DEFAULT_RULE_SET).evaluate(features(known__card=True))
    assert verdict.band == HIGH


def problems(rules: list[dict[str, Any]], thresholds: dict[str, Any] | None = None) -> str:
    with pytest.raises(RuleSetInvalid) as invalid:
        validate(rule_set_from_json(rules, thresholds or {}), FEATURES)
    return str(invalid.value)


def test_a_syntax_error_is_refused_with_the_compiler_message() -> None:
    message = problems([{"name": "x", "expression": "order.amount_yen >", "weight": 1}])
    assert "rule 'x'" in message and "Syntax error" in message


def test_an_unknown_variable_is_refused() -> None:
    message = problems([{"name": "x", "expression": "customer.age > 3", "weight": 1}])
    assert "unknown names ['customer']" in message


def test_an_unknown_field_is_refused() -> None:
    message = problems([{"name": "x", "expression": "order.amount > 3", "weight": 1}])
    assert "no such field 'amount'" in message


def test_a_rule_must_give_a_boolean() -> None:
    message = problems([{"name": "x", "expression": "order.amount_yen + 1", "weight": 1}])
    assert "must give true or false" in message


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"name": "", "expression": "true", "weight": 1}, "name of 1 to 64"),
        ({"name": "x", "expression": "true"}, "weight (non-zero) or a band"),
        ({"name": "x", "expression": "true", "band": "最高"}, "band must be one of"),
        ({"name": "x", "expression": "true", "weight": 5000}, "weight must be between"),
        ({"name": "x", "expression": "", "weight": 1}, "an expression of 1 to"),
        ({"name": "x", "expression": "true", "weight": 1.5}, "not a whole number"),
        ({"name": "x", "expression": "true", "weight": 1, "when": "now"}, "unknown fields"),
    ],
)
def test_malformed_rules_are_refused(rule: dict[str, Any], expected: str) -> None:
    assert expected in problems([rule])


def test_names_must_be_unique() -> None:
    rule = {"name": "x", "expression": "true", "weight": 1}
    assert "used twice" in problems([rule, rule])


def test_thresholds_must_be_ordered() -> None:
    rule = {"name": "x", "expression": "true", "weight": 1}
    assert "trusted < medium <= high" in problems([rule], {"high": 10, "medium": 20})
    assert "unknown fields" in problems([rule], {"very_high": 10})


def test_every_problem_is_listed_at_once() -> None:
    invalid = problems(
        [
            {"name": "a", "expression": "nope >", "weight": 1},
            {"name": "b", "expression": "true"},
        ]
    )
    assert "rule 'a'" in invalid and "rule 'b'" in invalid


def test_an_empty_rule_set_is_refused() -> None:
    assert "at least one rule" in problems([])


@pytest.mark.parametrize(
    ("expression", "source", "flat", "whole"),
    [
        ("order.amount_yen > 3", "order__amount_yen > 3", {"order__amount_yen"}, set()),
        (
            "velocity.email.elsewhere_h1 && known.email",
            "velocity__email__elsewhere_h1 && known__email",
            {"velocity__email__elsewhere_h1", "known__email"},
            set(),
        ),
        (
            "order.email_domain.endsWith('order.x')",
            "order__email_domain.endsWith('order.x')",
            {"order__email_domain"},
            set(),
        ),
        ("has(order.card_bin)", "has(order.card_bin)", set(), {"order"}),
        ("order['amount_yen'] > 1", "order['amount_yen'] > 1", set(), {"order"}),
        ("size(velocity.email) > 0", "size(velocity.email) > 0", set(), {"velocity"}),
        (
            "velocity.email.exists(k, k == 'd1') && order.user_agent.contains('x')",
            "velocity.email.exists(k, k == 'd1') && order__user_agent.contains('x')",
            {"order__user_agent"},
            {"velocity"},
        ),
    ],
)
def test_rules_run_on_flat_variables(
    expression: str, source: str, flat: set[str], whole: set[str]
) -> None:
    assert flatten(expression) == (source, frozenset(flat), frozenset(whole))


@pytest.mark.parametrize(
    "expression",
    [
        "order['amount_yen'] == 19800",
        "has(order.card_bin) && order.card_bin == '411111'",
        "'known.email' != '' && !known.email",
        "size(velocity.email) == 6 && velocity.email.d30 == 0",
        "velocity.email.exists(k, k == 'd30') && order.user_agent.size() >= 0",
    ],
)
def test_flat_and_grouped_forms_agree(expression: str) -> None:
    verdict = run([Rule("r", expression, 1)])
    assert verdict.score == 1, verdict.reasons
