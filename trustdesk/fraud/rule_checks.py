"""What a rule's expression must pass before it runs: when a version is stored, and again when
a stored version is loaded to score (a version stored before a limit existed is held to it).

:func:`check_expression` reads the expression (:mod:`trustdesk.fraud.cel_syntax`), makes sure
the engine read the same thing, refuses names the environment no longer has and bounds the
cost (:mod:`trustdesk.fraud.rule_cost`). What only a new version must also pass — names it may
read, loop variables, a boolean on a sample order — is :mod:`trustdesk.fraud.rules`' check.
Every problem is one line in Japanese and English, saying which limit was passed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cel

from trustdesk.fraud import cel_syntax, features, rule_cost
from trustdesk.fraud.cel_syntax import AnyNode, Call, Comprehension, Ident, Literal, Select

# The shapes of the four groups a rule reads (strings as long as a buyer may send them).
ENVIRONMENT = {
    name: rule_cost.shape_of(group, features.TEXT_LIMIT)
    for name, group in features.rule_context({}).items()
}
# Velocity windows that counted every merchant's orders, and what replaced them (seed 004 §37).
REMOVED = {f"all_{window}": f"elsewhere_{window}" for window in features.WINDOWS}
# The functions the engine's macros expand into, which it lists among an expression's own.
_EXPANSIONS = {
    "all": {"@not_strictly_false", "_&&_"},
    "exists": {"!_", "@not_strictly_false", "_||_"},
    "exists_one": {"_+_", "_==_", "_?_:_"},
    "map": {"_+_", "_?_:_"},
    "filter": {"_+_", "_?_:_"},
}


@dataclass(frozen=True)
class Checked:
    """An expression as read: its tree (None if unreadable), the engine's program, its
    estimated operations and every problem found."""

    tree: AnyNode | None
    program: cel.Program | None
    operations: int = 0
    problems: list[str] = field(default_factory=list)


def check_expression(expression: str) -> Checked:
    """Read, compile and bound ``expression``; see the module docstring."""
    try:
        tree = cel_syntax.parse(expression)
    except cel_syntax.TooDeep as too_deep:
        return Checked(None, None, problems=[str(too_deep)])
    except cel_syntax.Unreadable as unreadable:
        return Checked(None, None, problems=[_unreadable(expression, unreadable)])
    try:
        program = cel.compile(expression)
    except (ValueError, RuntimeError) as error:
        return Checked(tree, None, problems=[str(error)])
    nodes = cel_syntax.walk(tree)
    if not _same_reading(nodes, program):
        problem = "式を読み取れません / the expression could not be read unambiguously"
        return Checked(tree, program, problems=[problem])
    removed = removed_names(nodes)
    try:
        cost = rule_cost.estimate(tree, ENVIRONMENT, nodes)
    except rule_cost.Unsupported as unsupported:
        return Checked(tree, program, problems=[*removed, str(unsupported)])
    return Checked(tree, program, cost.operations, [*removed, *cost.problems()])


@functools.lru_cache(maxsize=4096)
def screen(expression: str) -> tuple[tuple[str, ...], int]:
    """The problems and operations of :func:`check_expression`, remembered by expression: the
    versions of a merchant mostly share their rules, and a stored version is checked when it
    is loaded and when it is listed."""
    checked = check_expression(expression)
    return tuple(checked.problems), checked.operations


def _unreadable(expression: str, unreadable: cel_syntax.Unreadable) -> str:
    """The engine's own message for what it cannot compile either (a typo); otherwise say
    that rules do not use this form."""
    try:
        cel.compile(expression)
    except (ValueError, RuntimeError) as error:
        return str(error)
    return (
        f"この書き方はルールでは使えません（{unreadable}） / this form is not available in "
        f"rules ({unreadable})"
    )


def _same_reading(nodes: list[AnyNode], program: cel.Program) -> bool:
    """Whether the engine saw the names this reader saw (in ``nodes``), and no function it
    did not: a reader that mistook where a string ends would see less than the engine runs."""
    names = {node.name for node in nodes if isinstance(node, Ident)}
    functions = {node.function for node in nodes if isinstance(node, Call)} | {"-_"}
    for node in nodes:
        if isinstance(node, Comprehension):
            functions |= _EXPANSIONS[node.macro]
            if node.macro == "filter":  # its expansion keeps the variable's value
                names.add(node.variable)
    references = program.references()
    return set(references["variables"]) == names and set(references["functions"]) <= functions


def free_names(tree: AnyNode, bound: frozenset[str] = frozenset()) -> set[str]:
    """The names ``tree`` reads that no comprehension around them binds."""
    if isinstance(tree, Ident):
        return set() if tree.name in bound else {tree.name}
    if isinstance(tree, Comprehension):
        inner = bound | {tree.variable}
        found = free_names(tree.range, bound)
        for body in tree.body:
            found |= free_names(body, inner)
        return found
    found = set()
    for child in cel_syntax.children(tree):
        found |= free_names(child, bound)
    return found


def loop_variables(tree: AnyNode) -> set[str]:
    return {node.variable for node in cel_syntax.walk(tree) if isinstance(node, Comprehension)}


def removed_names(nodes: list[AnyNode]) -> list[str]:
    """A problem for each read, among ``nodes``, of a velocity window that was removed
    (``velocity.card.all_d1``, also written ``velocity['card']['all_d1']``)."""
    problems = []
    for node in nodes:
        path = _path(node) if isinstance(node, Select | Call) else []
        if path and path[0] == "velocity" and len(path) == 3 and path[2] in REMOVED:
            kind, name = path[1], path[2]
            problems.append(
                f"velocity.{kind}.{name} は廃止されました。他の加盟店での注文は "
                f"velocity.{kind}.{REMOVED[name]}（他の加盟店{features.ELSEWHERE_MERCHANTS}"
                f"社以上で注文があれば true）で判定してください / velocity.{kind}.{name} was "
                f"removed: rules no longer see counts of every merchant's orders; use "
                f"velocity.{kind}.{REMOVED[name]}, true when {features.ELSEWHERE_MERCHANTS} or "
                "more other merchants had such orders"
            )
    return problems


def _path(node: AnyNode) -> list[str]:
    """``group.a.b`` (or with ``['a']``) as ``[group, a, b]``; empty for anything else."""
    if isinstance(node, Ident):
        return [node.name]
    if isinstance(node, Select) and not node.test:
        inner = _path(node.operand)
        return [*inner, node.field] if inner else []
    if isinstance(node, Call) and node.function == "_[_]":
        index = node.args[1]
        if isinstance(index, Literal) and index.kind == "string":
            inner = _path(node.args[0])
            return [*inner, str(cel.evaluate(index.text))] if inner else []
    return []
