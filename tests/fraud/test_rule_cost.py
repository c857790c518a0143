"""The cost bound of merchants' rules (issue 17): hostile rules refused with the limit they
pass, without running; the reader agrees with the engine; and for generated rules the work
counted while the engine runs them never exceeds the estimate."""

from __future__ import annotations

import math
from typing import Any

import cel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fraud.conftest import nested_all
from trustdesk.fraud import cel_syntax, features, rule_cost
from trustdesk.fraud.cel_syntax import (
    AnyNode,
    Call,
    Comprehension,
    Ident,
    ListOf,
    Literal,
    MapOf,
    Select,
)
from trustdesk.fraud.defaults import DEFAULT_RULE_SET
from trustdesk.fraud.pattern_cost import Unsupported, pattern_units
from trustdesk.fraud.rule_checks import ENVIRONMENT, check_expression
from trustdesk.fraud.rules import RuleSetInvalid, rule_set_from_json, validate
from trustdesk.fraud.rulesets import sample_features

FEATURES = sample_features()


def refused(expression: str) -> str:
    """The problems of a one-rule set, as a merchant reads them."""
    with pytest.raises(RuleSetInvalid) as invalid:
        validate(
            rule_set_from_json([{"name": "r", "expression": expression, "weight": 1}], {}),
            FEATURES,
        )
    return str(invalid.value)


def test_the_issues_rule_of_seven_nested_alls_is_refused_before_it_runs() -> None:
    """Seven ``all()`` over ten items is 10^7 steps: 5.7 s holding the interpreter lock."""
    message = refused(nested_all(7))
    assert "繰り返し" in message and "comprehensions nest 7 deep, at most 2" in message
    assert "7 comprehensions" in message and "at most 4" in message
    assert "the estimated cost is" in message and "at most 5,000 a rule" in message
    assert "the rules together" not in message  # said once, of the rule itself


def test_twenty_nested_alls_are_refused_from_the_tree_alone() -> None:
    checked = check_expression(nested_all(20, items=3))
    assert checked.operations > 10**9
    assert any("comprehensions nest 20 deep" in problem for problem in checked.problems)


@pytest.mark.parametrize(
    ("expression", "limit"),
    [
        ("(" * 60 + "true" + ")" * 60, "at most 48 levels"),
        ("!" * 60 + "true", "at most 48 levels"),
        (" || ".join(["known.email"] * 60), "at most 48 levels"),
        ("order.card_bin in [" + ",".join(["'1'"] * 300) + "]", "a list of 300 items"),
        ("order.user_agent == '" + "x" * 600 + "'", "at most 500"),
        (
            "[1,2].all(a, [1].all(b, true)) && [1].all(c, true) && [1].all(d, true) && "
            "[1].all(e, true) && [1].all(f, true)",
            "6 comprehensions",
        ),
        ("[1].all(a, [1].all(b, [1].all(c, true)))", "comprehensions nest 3 deep"),
        (
            " || ".join(["order.quantity in [" + ",".join(["1"] * 200) + "]"] * 3),
            "parts, at most 500",
        ),
        ("[" + ",".join(map(str, range(100))) + "].map(x, x).size() > 0", "at most 5,000"),
        ("order.user_agent.matches('.{200}')", "at most 5,000"),
    ],
)
def test_each_limit_is_named_when_it_is_passed(expression: str, limit: str) -> None:
    assert limit in refused(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        (r"order.user_agent.matches('\\w+bot')", "may not use \\w"),
        (r"order.user_agent.matches('[\\p{L}]+')", "may not use \\p"),
        ("order.user_agent.matches(order.email_domain)", "must be written as a string literal"),
        ("timestamp('2026-01-01T00:00:00Z') > timestamp('2025-01-01T00:00:00Z')", "timestamp()"),
        ("dyn(order.amount_yen) > 1", "the function dyn() is not available"),
    ],
)
def test_forms_whose_cost_cannot_be_bounded_are_refused(expression: str, reason: str) -> None:
    assert reason in refused(expression)


@pytest.mark.parametrize(
    ("pattern", "units"),
    [
        ("a{3}b", 4),
        ("^[a-z0-9.+-]+@", 11),
        (".{100}", 1000),
        ("(ab|cd){2,5}", 20),
        ("(?i)bot", 18),
        ("(?P<word>ab)c", 3),
        ("あ", 3),
    ],
)
def test_a_pattern_counts_as_its_compiled_size(pattern: str, units: int) -> None:
    """Counted repetitions multiplied out, classes and ``.`` wide, case folding six times."""
    assert pattern_units(pattern) == units


@pytest.mark.parametrize("pattern", ["(" * 40 + "a" + ")" * 40, "a{", "[a-z", "(ab", r"\1"])
def test_a_pattern_that_cannot_be_read_is_refused(pattern: str) -> None:
    with pytest.raises(Unsupported):
        pattern_units(pattern)


def test_a_rule_set_is_bounded_as_a_whole() -> None:
    heavy = "[" + ",".join(map(str, range(60))) + "].map(x, x).size() > 0"
    assert not check_expression(heavy).problems
    rules = [{"name": f"r{n}", "expression": heavy, "weight": 1} for n in range(10)]
    with pytest.raises(RuleSetInvalid) as invalid:
        validate(rule_set_from_json(rules, {}), FEATURES)
    assert "the rules together cost" in str(invalid.value) and "at most 25,000" in str(
        invalid.value
    )


def test_a_loop_variable_may_be_any_name_but_a_groups() -> None:
    validate(
        rule_set_from_json(
            [
                {
                    "name": "domains",
                    "expression": "['.example', '.test'].exists(d, order.email_domain.endsWith(d))",
                    "weight": 1,
                }
            ],
            {},
        ),
        FEATURES,
    )
    assert "may not be named order" in refused("[1].all(order, order > 0)")


# -- the reader reads what the engine runs -------------------------------------------------------

CORPUS = [rule.expression for rule in DEFAULT_RULE_SET.rules] + [
    "has(order.card_bin) && order.card_bin == '411111'",
    "order['amount_yen'] == 19800",
    "'known.email' != '' && !known.email",
    "size(velocity.email) == 6 && velocity['email'].d30 == 0",
    "[1, 2].map(x, x > 1, x * 2) == [4]",
    "[1].exists_one(x, x == 1) && [1].existsOne(y, y == 1)",
    "['a'].filter(s, s == 'a').size() == 1",
    "-1 < 0 && --1 == 1 && order.buyer_age != -1",
    "1 in [1, 2] ? true : false",
    "order.user_agent.matches('^Mozilla') || matches(order.user_agent, '(?i)bot|crawl')",
    "{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])",
    "b'ab' == b'ab' && 1.5e0 > 1.0 && 0x1F == 31",
    "double(order.amount_yen) / 2.0 > 1.0 && int('12') == 12 && string(1) == '1'",
    r"r'a\b' == 'a\\b' && '''x'y''' != '' && " + '"""a\nb""" != ""',
    "order.email_domain.startsWith('a') || order.email_domain.contains('c') // a comment",
]


@pytest.mark.parametrize("expression", CORPUS)
def test_the_reader_and_the_engine_see_the_same_expression(expression: str) -> None:
    checked = check_expression(expression)
    assert checked.problems == [] and checked.tree is not None


_PIECES = st.sampled_from(["a", "'", '"', "\\", "\n", "x", "u", "0", "7", "n", "é", " ", "`"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(["", "r", "R", "b", "B", "br", "bR"]),
    quote=st.sampled_from(['"', "'", '"""', "'''"]),
    body=st.lists(_PIECES, max_size=12).map("".join),
)
def test_string_literals_end_where_the_engines_end(prefix: str, quote: str, body: str) -> None:
    """Where a string ends decides what is code: a reader that ended one elsewhere than the
    engine could miss a comprehension the engine runs."""
    literal = prefix + quote + body + quote
    try:
        value = cel.evaluate(literal)
    except (ValueError, RuntimeError):
        value = None
    try:
        found = cel_syntax.tokens(literal)
    except cel_syntax.Unreadable:
        found = []
    whole = len(found) == 2 and found[0].text == literal  # the literal and the end
    assert whole == (value is not None)


# -- the estimate bounds the work ----------------------------------------------------------------


def _work(value: Any) -> int:
    """What making ``value`` touches, counted as ``rule_cost.Shape.deep`` counts it."""
    if isinstance(value, str | bytes):
        return math.ceil(len(value) / rule_cost.TEXT_UNIT)
    if isinstance(value, list):
        return len(value) * (1 + max((_work(item) for item in value), default=0))
    if isinstance(value, dict):
        inner = [_work(part) for pair in value.items() for part in pair]
        return len(value) * (1 + max(inner, default=0))
    return 0


def _counted(node: AnyNode) -> str:
    """``node`` written back with every evaluation counted by the engine itself: ``seen(x)``
    for a value only referred to, ``made(x)`` for one made (weighed by ``_work``)."""
    if isinstance(node, Literal):
        return f"made({node.text})"
    if isinstance(node, Ident):
        return f"seen({node.name})"
    if isinstance(node, Select):
        if node.test:
            return f"made(has({_plain(node.operand)}.{node.field}))"
        return f"seen({_counted(node.operand)}.{node.field})"
    if isinstance(node, ListOf):
        return "made([" + ", ".join(_counted(item) for item in node.items) + "])"
    if isinstance(node, MapOf):
        entries = (f"{_counted(key)}: {_counted(value)}" for key, value in node.entries)
        return "made({" + ", ".join(entries) + "})"
    if isinstance(node, Comprehension):
        body = ", ".join(_counted(part) for part in node.body)
        return f"made({_counted(node.range)}.{node.macro}({node.variable}, {body}))"
    return _call(node)


_OPERATORS = {
    "_&&_": "&&",
    "_||_": "||",
    "_==_": "==",
    "_!=_": "!=",
    "_<_": "<",
    "_<=_": "<=",
    "_>_": ">",
    "_>=_": ">=",
    "@in": "in",
    "_+_": "+",
    "_-_": "-",
    "_*_": "*",
    "_/_": "/",
    "_%_": "%",
}


def _call(node: Call) -> str:
    args = [_counted(arg) for arg in node.args]
    if node.function in _OPERATORS:
        return f"made(({args[0]}) {_OPERATORS[node.function]} ({args[1]}))"
    if node.function in ("!_", "-_"):
        return f"made({node.function[0]}({args[0]}))"
    if node.function == "_?_:_":
        return f"seen(({args[0]}) ? ({args[1]}) : ({args[2]}))"
    if node.function == "_[_]":
        return f"seen(({args[0]})[{args[1]}])"
    if node.target is not None:
        return f"made(({_counted(node.target)}).{node.function}({', '.join(args)}))"
    return f"made({node.function}({', '.join(args)}))"


def _plain(node: AnyNode) -> str:
    """The operand of ``has()``, which must stay a plain field selection."""
    if isinstance(node, Ident):
        return node.name
    assert isinstance(node, Select)
    return f"{_plain(node.operand)}.{node.field}"


def measured_work(expression: str, context: dict[str, Any]) -> int:
    """The work the engine does running ``expression``, counted node by node."""
    counted = 0

    def seen(value: Any) -> Any:
        nonlocal counted
        counted += 1
        return value

    def made(value: Any) -> Any:
        nonlocal counted
        counted += 1 + _work(value)
        return value

    program = cel.compile(_counted(cel_syntax.parse(expression)))
    try:
        program.execute(cel.Context(context, {"seen": seen, "made": made}))
    except Exception:  # noqa: BLE001 - a rule failing midway did less work, all counted
        pass
    return counted


_INTS = ["order.amount_yen", "order.quantity", "order.hour_jst", "known.count"]
_INTS += ["velocity.email.d1", "velocity.card.h1", "history.legitimate_d30"]
_TEXTS = ["order.user_agent", "order.email_domain", "order.card_bin", "order.phone_kind"]
_BOOLS = ["known.email", "order.has_phone", "velocity.card.elsewhere_d1", "known.any"]
_PATTERNS = ["^Mozilla", "(?i)bot|crawl", "a{3}b", "[a-z]+@", ".{5}", "x*y?"]
Scope = dict[str, str]


def _list(items: st.SearchStrategy[str], most: int) -> st.SearchStrategy[str]:
    return st.lists(items, max_size=most).map(lambda parts: "[" + ", ".join(parts) + "]")


def _pair(left: st.SearchStrategy[str], between: str, right: st.SearchStrategy[str]) -> Any:
    return st.tuples(left, right).map(lambda parts: f"({parts[0]} {between} {parts[1]})")


@st.composite
def rules(draw: st.DrawFn, kind: str = "bool", depth: int = 3, scope: Scope | None = None) -> str:
    """A rule giving ``kind`` (bool, int, text, ints, texts, lists: a list of int lists),
    mostly well typed so that it runs to its end and all its work is counted; ``depth``
    bounds the nesting, ``scope`` holds the loop variables by kind."""
    scope = scope or {}
    own = [name for name, held in scope.items() if held == kind]
    if depth <= 0:
        if kind == "int":
            return draw(st.sampled_from([str(draw(st.integers(-5, 500))), *_INTS, *own]))
        if kind == "text":
            text = repr(draw(st.text("abc-あ@.", max_size=30)))
            return draw(st.sampled_from([text, *_TEXTS, *own]))
        if kind == "bool":
            return draw(st.sampled_from(["true", "false", *_BOOLS]))
        if kind == "lists":
            return draw(_list(rules("ints", 0, scope), 6))
        return draw(_list(rules("int" if kind == "ints" else "text", 0, scope), 12))
    sub = depth - 1
    return draw(st.one_of(rules(kind, 0, scope), *_compound(kind, sub, scope)))


def _compound(kind: str, sub: int, scope: Scope) -> list[st.SearchStrategy[str]]:
    if kind == "ints":
        return [
            _comprehension("ints", "map", "int", "int", sub, scope),
            _comprehension("ints", "filter", "int", "bool", sub, scope),
            _pair(rules("ints", sub, scope), "+", rules("ints", sub, scope)),
        ]
    if kind == "texts":
        return [_comprehension("ints", "map", "int", "text", sub, scope)]
    if kind == "lists":
        return [_comprehension("ints", "map", "int", "ints", sub, scope)]
    if kind == "int":
        sized = st.sampled_from(["texts", "ints", "lists", "text"])
        return [
            _pair(rules("int", sub, scope), "+", rules("int", sub, scope)),
            _pair(rules("int", sub, scope), "*", rules("int", sub, scope)),
            sized.flatmap(lambda of: rules(of, sub, scope).map(lambda text: f"size({text})")),
            st.tuples(
                rules("bool", sub, scope), rules("int", sub, scope), rules("int", sub, scope)
            ).map(lambda parts: f"({parts[0]} ? {parts[1]} : {parts[2]})"),
        ]
    if kind == "text":
        return [
            _pair(rules("text", sub, scope), "+", rules("text", sub, scope)),
            rules("int", sub, scope).map(lambda text: f"string({text})"),
        ]
    searches = st.sampled_from(["contains", "startsWith", "endsWith"])
    return [
        rules("bool", sub, scope).map(lambda text: f"!{text}"),
        _pair(rules("bool", sub, scope), "&&", rules("bool", sub, scope)),
        _pair(rules("bool", sub, scope), "||", rules("bool", sub, scope)),
        _pair(rules("int", sub, scope), "<", rules("int", sub, scope)),
        _pair(rules("text", sub, scope), "==", rules("text", sub, scope)),
        st.tuples(rules("text", sub, scope), searches, rules("text", sub, scope)).map(
            lambda parts: f"({parts[0]}).{parts[1]}({parts[2]})"
        ),
        st.tuples(rules("text", sub, scope), st.sampled_from(_PATTERNS)).map(
            lambda parts: f"({parts[0]}).matches('{parts[1]}')"
        ),
        _pair(rules("int", sub, scope), "in", rules("ints", sub, scope)),
        _pair(rules("lists", sub, scope), "==", rules("lists", sub, scope)),
        st.sampled_from(["all", "exists", "exists_one"]).flatmap(
            lambda macro: _comprehension("ints", macro, "int", "bool", sub, scope)
        ),
        _comprehension("texts", "exists", "text", "bool", sub, scope),
        _comprehension("lists", "all", "ints", "bool", sub, scope),
        st.just("order.exists(k, k.startsWith('has'))"),
        rules("int", sub, scope).map(lambda text: f"velocity.exists(k, velocity[k].d1 > {text})"),
    ]


def _comprehension(
    over: str, macro: str, element: str, body: str, depth: int, scope: Scope
) -> st.SearchStrategy[str]:
    variable = f"v{len(scope)}"
    inner = scope | {variable: element}
    return st.tuples(rules(over, depth, scope), rules(body, depth, inner)).map(
        lambda parts: f"({parts[0]}).{macro}({variable}, {parts[1]})"
    )


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """A feature set whose strings are as long as a buyer may make them, or short."""
    context = features.rule_context(FEATURES)
    for name in ("user_agent", "email_domain", "card_bin", "phone_kind"):
        length = draw(st.sampled_from([0, 7, features.TEXT_LIMIT]))
        context["order"][name] = draw(st.sampled_from("abあ")) * length
    context["order"]["amount_yen"] = draw(st.integers(0, 10**6))
    context["velocity"]["email"]["d1"] = draw(st.integers(0, 50))
    return context


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(expression=rules(), context=contexts())
def test_the_estimate_bounds_the_work_the_engine_does(expression: str, context: Any) -> None:
    checked = check_expression(expression)
    if checked.tree is None or checked.program is None or checked.operations > 50_000:
        return  # not a rule the service would run
    assert measured_work(expression, context) <= checked.operations, expression


def test_the_work_of_the_issues_rule_is_counted_like_the_estimate() -> None:
    """The counter is no dummy: two nested all() over ten items count their hundred steps."""
    work = measured_work(nested_all(2), features.rule_context(FEATURES))
    estimate = check_expression(nested_all(2)).operations
    assert 100 < work <= estimate


def test_the_environment_is_what_the_service_hands_rules() -> None:
    """The shapes the estimate assumes come from the declared environment, and scoring builds
    exactly that environment (strings at most TEXT_LIMIT)."""
    assert features.rule_context(FEATURES) == FEATURES
    for group, variables in features.RULE_ENVIRONMENT.items():
        assert set(FEATURES[group]) == set(variables)
    assert ENVIRONMENT["order"].member("user_agent").size == features.TEXT_LIMIT
