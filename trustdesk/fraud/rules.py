"""Merchants' logic (seed 004 §17-1-3): rules as CEL expressions, weights, forced bands.

A rule is data: a name, a CEL expression over the order's features (``order``, ``known``,
``velocity``, ``history``; see :mod:`trustdesk.fraud.features`) that must give a boolean, and
either a weight added to the score when it fires or a band it forces. The score is the sum of
the fired weights; the band comes from the thresholds unless a fired rule forces one, and when
several do the riskiest forced band wins (a forced 高 beats a forced 信頼性高).

CEL (Google's Common Expression Language) has no loops, no I/O and no way to call Python: a
merchant's rule can read the features and nothing else. The Rust implementation is used through
``common-expression-language``; it evaluates fifty rules in ~40 µs where the pure-Python
``cel-python`` takes ~25 ms (measured, docs/fraud.md).

A rule set is checked before it is stored: every expression must compile, name only the four
feature groups, stay within the cost limits (:mod:`trustdesk.fraud.rule_checks`: the engine
cannot be stopped once it runs) and give a boolean on a sample order — so a typo in a field
name is an error for the merchant at once, not a rule that silently never fires. A stored
version is checked again when it is loaded: a rule over today's limits, or reading a variable
that was removed, does not run and is reported with each score (``rule_error``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import cel

from trustdesk.fraud.rule_checks import check_expression, free_names, loop_variables, screen
from trustdesk.fraud.rule_cost import MAX_RULE_SET_OPERATIONS, rule_set_problem

HIGH, MEDIUM, LOW, TRUSTED = "高", "中", "低", "信頼性高"
BANDS = (HIGH, MEDIUM, LOW, TRUSTED)
RISK = {HIGH: 3, MEDIUM: 2, LOW: 1, TRUSTED: 0}
VARIABLES = frozenset({"order", "known", "velocity", "history"})
MAX_RULES = 200
MAX_EXPRESSION = 2000
MAX_WEIGHT = 1000


class RuleSetInvalid(ValueError):
    """A rule set that cannot be stored: each problem is one line of the message."""

    code = "invalid_rules"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    name: str
    expression: str
    weight: int = 0
    band: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Thresholds:
    """score ≥ high → 高; ≥ medium → 中; ≤ trusted → 信頼性高; otherwise 低."""

    high: int = 60
    medium: int = 25
    trusted: int = -20

    def band(self, score: int) -> str:
        if score >= self.high:
            return HIGH
        if score >= self.medium:
            return MEDIUM
        return TRUSTED if score <= self.trusted else LOW


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [asdict(rule) for rule in self.rules],
            "thresholds": asdict(self.thresholds),
        }

    def fingerprint(self) -> str:
        canonical = json.dumps(self.as_json(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    score: int
    band: str
    reasons: list[dict[str, Any]]


def rule_set_from_json(rules: Any, thresholds: Any) -> RuleSet:
    """Build a rule set from its JSON form, naming every problem of shape (not of logic)."""
    problems: list[str] = []
    if not isinstance(rules, list):
        raise RuleSetInvalid(["rules must be a list of rules"])
    built: list[Rule] = []
    for index, item in enumerate(rules):
        if not isinstance(item, Mapping):
            problems.append(f"rules[{index}] must be an object")
            continue
        unknown = set(item) - {"name", "expression", "weight", "band", "description"}
        if unknown:
            problems.append(f"rules[{index}]: unknown fields {sorted(unknown)}")
        try:
            built.append(
                Rule(
                    name=str(item.get("name", "")),
                    expression=str(item.get("expression", "")),
                    weight=_whole(item.get("weight", 0)),
                    band=None if item.get("band") is None else str(item["band"]),
                    description=str(item.get("description", "")),
                )
            )
        except ValueError as exc:
            problems.append(f"rules[{index}]: {exc}")
    try:
        limits = dict(thresholds or {})
        unknown = set(limits) - {"high", "medium", "trusted"}
        if unknown:
            problems.append(f"thresholds: unknown fields {sorted(unknown)}")
        bounds = Thresholds(**{key: _whole(value) for key, value in limits.items()})
    except (TypeError, ValueError) as exc:
        problems.append(f"thresholds: {exc}")
        bounds = Thresholds()
    if problems:
        raise RuleSetInvalid(problems)
    return RuleSet(tuple(built), bounds)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def validate(rule_set: RuleSet, sample: Mapping[str, Any]) -> None:
    """Refuse a rule set that could not run as written; ``sample`` is a feature set."""
    problems: list[str] = []
    if not rule_set.rules:
        problems.append("a rule set needs at least one rule")
    if len(rule_set.rules) > MAX_RULES:
        problems.append(f"at most {MAX_RULES} rules")
    limits = rule_set.thresholds
    if not limits.trusted < limits.medium <= limits.high:
        problems.append("thresholds must satisfy trusted < medium <= high")
    names: set[str] = set()
    context = cel.Context(dict(sample))
    operations = 0
    for rule in rule_set.rules:
        found, cost = _rule_problems(rule, names, context)
        problems.extend(found)
        operations += 0 if found else cost  # a rule refused on its own is not counted twice
        names.add(rule.name)
    if operations > MAX_RULE_SET_OPERATIONS:
        problems.append(rule_set_problem(operations))
    if problems:
        raise RuleSetInvalid(problems)
    # The form that runs (flat variables) must behave as the form the merchant wrote.
    for reason in CompiledRuleSet(rule_set).evaluate(sample).reasons:
        if reason["type"] == "rule_error":
            problems.append(f"rule {reason['rule']!r}: {reason['detail']}")
    if problems:
        raise RuleSetInvalid(problems)


def _rule_problems(rule: Rule, names: set[str], context: cel.Context) -> tuple[list[str], int]:
    """The problems of one rule and its estimated operations."""
    label = f"rule {rule.name!r}"
    problems = []
    if not rule.name.strip() or len(rule.name) > 64:
        problems.append(f"{label}: a name of 1 to 64 characters is required")
    if rule.name in names:
        problems.append(f"{label}: the name is used twice")
    if rule.band is not None and rule.band not in BANDS:
        problems.append(f"{label}: band must be one of {', '.join(BANDS)}")
    if rule.band is None and rule.weight == 0:
        problems.append(f"{label}: give a weight (non-zero) or a band")
    if abs(rule.weight) > MAX_WEIGHT:
        problems.append(f"{label}: weight must be between -{MAX_WEIGHT} and {MAX_WEIGHT}")
    if not rule.expression.strip() or len(rule.expression) > MAX_EXPRESSION:
        return [*problems, f"{label}: an expression of 1 to {MAX_EXPRESSION} characters"], 0
    checked = check_expression(rule.expression)
    problems += [f"{label}: {problem}" for problem in checked.problems]
    if checked.tree is None or checked.program is None or checked.problems:
        return problems, checked.operations
    unknown = free_names(checked.tree) - VARIABLES
    if unknown:
        known = ", ".join(sorted(VARIABLES))
        return [*problems, f"{label}: unknown names {sorted(unknown)}; rules read {known}"], 0
    shadowing = ", ".join(sorted(loop_variables(checked.tree) & VARIABLES))
    if shadowing:  # flat variables would read the group, not the loop's value
        return [
            *problems,
            f"{label}: 繰り返しの変数に {shadowing} は使えません / a comprehension variable "
            f"may not be named {shadowing}",
        ], checked.operations
    try:
        result = checked.program.execute(context)
    except Exception as exc:  # noqa: BLE001 - CEL raises KeyError, TypeError, RuntimeError...
        return [*problems, f"{label}: fails on a sample order: {_cel_error(exc)}"], 0
    if not isinstance(result, bool):
        problems.append(f"{label}: must give true or false, gave {type(result).__name__}")
    return problems, checked.operations


def _cel_error(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such field {exc.args[0]!r}"
    return str(exc).split(". ", 1)[0]


_STRING = (
    r"[rR]?(?:'''(?:.|\n)*?'''"
    r'|"""(?:.|\n)*?"""'
    r"|'(?:\\.|[^'\\])*'"
    r'|"(?:\\.|[^"\\])*")'
)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(
    rf"(?P<string>{_STRING})"
    rf"|(?P<has>\bhas\s*\()"
    rf"|(?<![.\w])(?P<group>velocity|order|known|history)\b"
    rf"(?P<path>(?:\s*\.\s*{_NAME}\b(?!\s*\()){{0,2}})"  # a method call is not a field
)


def flatten(expression: str) -> tuple[str, frozenset[str], frozenset[str]]:
    """``expression`` with ``order.amount_yen`` read as the flat variable
    ``order__amount_yen`` (``velocity.email.h1`` as ``velocity__email__h1``), the flat names
    it reads, and the groups it still needs whole (used as a map, or inside ``has()``).

    Handing the CEL runtime a map costs several microseconds, a plain value a fraction of
    one (measured in docs/fraud.md), so the features go in as flat variables."""
    flat: set[str] = set()
    whole: set[str] = set()
    pieces: list[str] = []
    position = 0
    inside_has = False
    for match in _TOKEN.finditer(expression):
        if match.group("string") is not None:
            continue
        if match.group("has") is not None:
            inside_has = True
            continue
        group = match.group("group")
        names = [part.strip() for part in match.group("path").split(".")[1:]]
        depth = 2 if group == "velocity" else 1
        if inside_has or len(names) < depth:
            whole.add(group)
            inside_has = False
            continue
        name = "__".join([group, *names[:depth]])
        flat.add(name)
        rest = "".join(f".{part}" for part in names[depth:])
        pieces.append(expression[position : match.start()] + name + rest)
        position = match.end()
    pieces.append(expression[position:])
    return "".join(pieces), frozenset(flat), frozenset(whole)


def _path(name: str) -> tuple[str, str, str, str | None]:
    """A flat name and where its value is: ``order__amount_yen`` in ``order``,
    ``velocity__email__h1`` in ``velocity``'s ``email`` (see :func:`flatten`)."""
    group, key, *window = name.split("__")
    return name, group, key, window[0] if window else None


def _admitted(rule_set: RuleSet) -> Iterator[tuple[Rule, str, int]]:
    """Each rule of a stored set checked again (:func:`screen`): the problem that keeps it
    from running ("" if none; also taking the set past ``MAX_RULE_SET_OPERATIONS``) and its
    estimated operations."""
    total = 0
    for rule in rule_set.rules:
        problems, operations = screen(rule.expression)
        problem = "; ".join(problems)
        if not problem and total + operations > MAX_RULE_SET_OPERATIONS:
            problem = rule_set_problem(total + operations)
        if not problem:
            total += operations
        yield rule, problem, operations


class CompiledRuleSet:
    """A stored rule set ready to run; built once per version (see :func:`compiled`).

    Rules read the features as flat variables (:func:`flatten`), and each evaluation passes
    only those the rules read. Each rule is checked again as it is loaded
    (:func:`~trustdesk.fraud.rule_checks.check_expression`); one that fails, or that would take
    the set past ``MAX_RULE_SET_OPERATIONS``, does not run: ``problems`` names it, and every
    evaluation reports it as a ``rule_error``. ``operations`` bounds the work of the rules that
    run, once per order."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self.operations = 0
        self.problems: list[str] = []
        self._programs: list[tuple[Rule, cel.Program | None, str]] = []
        flat: set[str] = set()
        whole: set[str] = set()
        for rule, problem, operations in _admitted(rule_set):
            if problem:
                self.problems.append(f"rule {rule.name!r}: {problem}")
                self._programs.append((rule, None, problem))
                continue
            source, names, groups = flatten(rule.expression)
            self._programs.append((rule, cel.compile(source), ""))
            self.operations += operations
            flat |= names
            whole |= groups
        self._flat = [_path(name) for name in sorted(flat)]
        self._whole = sorted(whole)

    def _context(self, features: Mapping[str, Any]) -> cel.Context:
        variables: dict[str, Any] = {group: features[group] for group in self._whole}
        for name, group, key, window in self._flat:
            values = features.get(group)
            value = values.get(key) if isinstance(values, dict) else None
            if window is not None:
                value = value.get(window) if isinstance(value, dict) else None
            if value is not None:
                variables[name] = value
        return cel.Context(variables)

    def evaluate(self, features: Mapping[str, Any]) -> Verdict:
        """Score one order's features. A rule that fails at run time (a field the order
        lacks), or was refused when loaded, does not fire and is listed among the reasons
        with its error."""
        context = self._context(features)
        score, forced = 0, None
        reasons: list[dict[str, Any]] = []
        for rule, program, refused in self._programs:
            if program is None:
                reasons.append({"type": "rule_error", "rule": rule.name, "detail": refused})
                continue
            try:
                fired = program.execute(context) is True
            except Exception as exc:  # noqa: BLE001 - see _rule_problems
                reasons.append({"type": "rule_error", "rule": rule.name, "detail": _cel_error(exc)})
                continue
            if not fired:
                continue
            reason: dict[str, Any] = {"type": "rule", "rule": rule.name, "weight": rule.weight}
            if rule.band is not None:
                reason["band"] = rule.band
                if forced is None or RISK[rule.band] > RISK[forced]:
                    forced = rule.band
            score += rule.weight
            reasons.append(reason)
        return Verdict(score, forced or self.rule_set.thresholds.band(score), reasons)


_CACHE: dict[str, CompiledRuleSet] = {}


def cached(fingerprint: str) -> CompiledRuleSet | None:
    return _CACHE.get(fingerprint)


_PROBLEMS: dict[str, list[str]] = {}


def version_problems(fingerprint: str, rules: Any, thresholds: Any) -> list[str]:
    """The rules of a stored version that do not run, with why: what a listing of versions
    shows. Cached by fingerprint like :func:`compiled`, without compiling what would run."""
    found = _CACHE.get(fingerprint)
    if found is not None:
        return found.problems
    problems = _PROBLEMS.get(fingerprint)
    if problems is None:
        if len(_PROBLEMS) >= 4096:
            _PROBLEMS.clear()
        rule_set = rule_set_from_json(rules, thresholds)
        problems = _PROBLEMS[fingerprint] = [
            f"rule {rule.name!r}: {problem}" for rule, problem, _ in _admitted(rule_set) if problem
        ]
    return problems


def compiled(fingerprint: str, rules: Any, thresholds: Any) -> CompiledRuleSet:
    """The compiled form of a stored rule set, cached by its fingerprint: a version never
    changes, so its programs are compiled once per process."""
    found = _CACHE.get(fingerprint)
    if found is None:
        if len(_CACHE) >= 1024:
            _CACHE.clear()
        found = _CACHE[fingerprint] = CompiledRuleSet(rule_set_from_json(rules, thresholds))
    return found
