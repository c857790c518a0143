"""What a merchant's rule may cost, estimated from its tree before it ever runs.

The CEL engine evaluates a program to its end holding the interpreter lock, with no limit and
no way to stop it: one rule of seven nested ``all()`` over ten-item lists held the whole
process 5.7 s, twenty held it for good (issue 17). So a rule is bounded before it is stored,
and again when a stored version is loaded, by a static estimate in the manner of cel-go's
``checker.Cost``: every value gets an upper bound on its size (characters of a string, items
of a list, entries of a map, and the same for its elements, :class:`Shape`), every node an
upper bound on the work of evaluating it (:func:`estimate`):

- a node costs one operation, plus every element at every level of a value it makes (a list,
  a sum of strings or lists): the engine copies lists whole when it builds one (measured:
  0.2-0.3 µs an element), a string a tenth of an operation a character; a value it only
  refers to (a variable, a field, an index, a branch of ``?:``) is not copied (measured);
- a comprehension costs its range, then per element its body, two steps of the loop and a copy
  of the element; the engine's ``map`` and ``filter`` copy their result list, deeply, at
  every step (measured: quadratic), so each element also costs the result;
- string searches cost both strings, comparisons their values, ``in`` the list's elements;
- ``matches`` takes a literal pattern only, and costs its compiled size
  (:mod:`trustdesk.fraud.pattern_cost`) plus the text to scan.

The rule's variables are the rule environment (:data:`trustdesk.fraud.features.RULE_ENVIRONMENT`),
whose strings are bounded (``features.TEXT_LIMIT``). The limits are plain numbers here, beside
the estimate they bound. ``tests/fraud/test_rule_cost.py`` checks the estimate against the
engine: for generated rules, the work counted while the engine runs them never exceeds it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from trustdesk.fraud.cel_syntax import (
    AnyNode,
    Call,
    Comprehension,
    Ident,
    ListOf,
    Literal,
    MapOf,
    Select,
    children,
    walk,
)
from trustdesk.fraud.pattern_cost import Unsupported, pattern_units

MAX_NODES = 500
MAX_LIST = 256
MAX_STRING = 500
MAX_COMPREHENSIONS = 4
MAX_NESTING = 2
MAX_RULE_OPERATIONS = 5_000
MAX_RULE_SET_OPERATIONS = 25_000
# Work a backtest may do in all (operations of the rules, over every order it reads).
MAX_BACKTEST_OPERATIONS = 20_000_000
# What handing one order's variables to the engine costs, counted like a rule's operations.
CONTEXT_OPERATIONS = 50
# What compiling one unit of a pattern costs (measured: 0.5-7 µs a unit, an operation ~0.2 µs).
REGEX_UNIT_OPERATIONS = 4
# Characters of a string one operation reads or writes (cel-go counts a tenth an operation).
TEXT_UNIT = 10


# Calls that give one of their operands, not a new value.
REFERENCES = frozenset({"_?_:_", "_[_]"})


@dataclass(frozen=True)
class Shape:
    """Upper bounds of a value: ``size`` its characters, bytes, items or entries; ``item``
    those of each list item or map value, ``key`` of each map key (None: not a map), and
    ``fields`` those of the entries a map is known to have, by name. ``text``: a string or
    bytes, whose characters cost a tenth of an operation each (``TEXT_UNIT``)."""

    size: int = 0
    item: Shape | None = None
    key: Shape | None = None
    fields: tuple[tuple[str, Shape], ...] = ()
    text: bool = False

    def union(self, other: Shape) -> Shape:
        theirs = dict(other.fields)
        return Shape(
            max(self.size, other.size),
            _union(shape for shape in (self.item, other.item) if shape is not None),
            _union(shape for shape in (self.key, other.key) if shape is not None),
            tuple((name, mine.union(theirs[name])) for name, mine in self.fields if name in theirs),
            (self.text or not self.size) and (other.text or not other.size),
        )

    @property
    def work(self) -> int:
        """Operations to make or read the value once (a string by its characters)."""
        return math.ceil(self.size / TEXT_UNIT) if self.text else self.size

    def deep(self) -> int:
        """Operations to touch every element at every level: comparing or copying it."""
        inner = max(
            (shape.deep() for shape in (self.item, self.key) if shape is not None), default=0
        )
        return self.work * (1 + inner)

    @property
    def element(self) -> Shape:
        """What a comprehension's variable takes: a map's keys, a list's items."""
        return self.key or self.item or SCALAR

    def member(self, name: str) -> Shape:
        """A map's entry ``name``, or any value when it is not one the map is known to have."""
        return dict(self.fields).get(name) or self.item or SCALAR


SCALAR = Shape()


def shape_of(value: Any, text_limit: int) -> Shape:
    """The bounds of a variable's value as the service fills it: its maps' entries as they
    are, every string up to ``text_limit`` (what a buyer may send)."""
    if isinstance(value, Mapping):
        fields = tuple((str(key), shape_of(part, text_limit)) for key, part in value.items())
        return Shape(
            len(value),
            _union(shape for _, shape in fields),
            _union(Shape(len(key), text=True) for key in value),
            fields,
        )
    if isinstance(value, str):
        return Shape(text_limit, text=True)
    return SCALAR


def _union(shapes: Iterable[Shape]) -> Shape | None:
    found: Shape | None = None
    for shape in shapes:
        found = shape if found is None else found.union(shape)
    return found


@dataclass(frozen=True)
class Cost:
    """The estimate of one expression and the sizes the limits look at."""

    operations: int
    nodes: int
    comprehensions: int
    nesting: int
    largest_list: int
    longest_string: int

    def problems(self) -> list[str]:
        """Each limit passed, in Japanese and English, with this expression's figure."""
        found = []
        if self.nodes > MAX_NODES:
            found.append(
                f"式が大きすぎます（要素{self.nodes}個、上限{MAX_NODES}個） / the expression "
                f"has {self.nodes} parts, at most {MAX_NODES}"
            )
        if self.largest_list > MAX_LIST:
            found.append(
                f"リストが長すぎます（{self.largest_list}件、上限{MAX_LIST}件） / a list of "
                f"{self.largest_list} items, at most {MAX_LIST}"
            )
        if self.longest_string > MAX_STRING:
            found.append(
                f"文字列が長すぎます（{self.longest_string}バイト、上限{MAX_STRING}バイト） / "
                f"a string of {self.longest_string} bytes, at most {MAX_STRING}"
            )
        if self.comprehensions > MAX_COMPREHENSIONS:
            found.append(
                f"繰り返し（all・exists・exists_one・map・filter）が多すぎます"
                f"（{self.comprehensions}個、上限{MAX_COMPREHENSIONS}個） / "
                f"{self.comprehensions} comprehensions (all, exists, exists_one, map, filter), "
                f"at most {MAX_COMPREHENSIONS}"
            )
        if self.nesting > MAX_NESTING:
            found.append(
                f"繰り返し（all・exists・exists_one・map・filter）の入れ子が深すぎます"
                f"（{self.nesting}段、上限{MAX_NESTING}段） / comprehensions nest "
                f"{self.nesting} deep, at most {MAX_NESTING}"
            )
        if self.operations > MAX_RULE_OPERATIONS:
            found.append(
                f"評価の負荷が大きすぎます（見積り{self.operations:,}、上限"
                f"{MAX_RULE_OPERATIONS:,}） / the estimated cost is {self.operations:,} "
                f"operations, at most {MAX_RULE_OPERATIONS:,} a rule"
            )
        return found


def rule_set_problem(operations: int) -> str:
    return (
        f"ルール全体の評価の負荷が大きすぎます（見積り{operations:,}、上限"
        f"{MAX_RULE_SET_OPERATIONS:,}） / the rules together cost an estimated "
        f"{operations:,} operations, at most {MAX_RULE_SET_OPERATIONS:,} an order"
    )


def estimate(
    tree: AnyNode, variables: Mapping[str, Shape], nodes: list[AnyNode] | None = None
) -> Cost:
    """The cost of ``tree`` when its free names are ``variables`` (``nodes``: its nodes, if
    the caller walked it already); :class:`Unsupported` for a function rules may not call or a
    pattern that cannot be bounded."""
    nodes = walk(tree) if nodes is None else nodes
    strings = [node.size for node in nodes if isinstance(node, Literal)]
    lists = [len(node.items) for node in nodes if isinstance(node, ListOf)]
    lists += [len(node.entries) for node in nodes if isinstance(node, MapOf)]
    operations, _ = _Estimator(dict(variables)).cost(tree)
    return Cost(
        operations=operations,
        nodes=len(nodes),
        comprehensions=sum(isinstance(node, Comprehension) for node in nodes),
        nesting=_nesting(tree),
        largest_list=max(lists, default=0),
        longest_string=max(strings, default=0),
    )


def _nesting(tree: AnyNode) -> int:
    """How many comprehensions enclose one another at most (a range counts as outside)."""
    if isinstance(tree, Comprehension):
        inside = max((_nesting(body) for body in tree.body), default=0)
        return max(_nesting(tree.range), 1 + inside)
    return max((_nesting(child) for child in children(tree)), default=0)


class _Estimator:
    """Walks a tree with the shapes of the names in scope (loop variables shadow)."""

    def __init__(self, scope: dict[str, Shape]) -> None:
        self.scope = scope

    def cost(self, node: AnyNode) -> tuple[int, Shape]:
        """(operations, shape of the value) for one evaluation of ``node``."""
        if isinstance(node, Literal):
            shape = Shape(node.size, text=node.kind in ("string", "bytes"))
            return 1 + shape.deep(), shape
        if isinstance(node, Ident):
            return 1, self.scope.get(node.name, SCALAR)
        if isinstance(node, Select):
            operations, operand = self.cost(node.operand)
            return operations + 1, SCALAR if node.test else operand.member(node.field)
        if isinstance(node, ListOf):
            operations, items = self._all(node.items)
            shape = Shape(len(node.items), items)
            return operations + 1 + shape.deep(), shape
        if isinstance(node, MapOf):
            keys_cost, keys = self._all([key for key, _ in node.entries])
            values_cost, values = self._all([value for _, value in node.entries])
            shape = Shape(len(node.entries), values, keys or SCALAR)
            return keys_cost + values_cost + 1 + shape.deep(), shape
        if isinstance(node, Comprehension):
            return self._comprehension(node)
        return self._call(node)

    def _all(self, parts: Iterable[AnyNode]) -> tuple[int, Shape | None]:
        """The cost of evaluating each of ``parts`` and the union of their shapes."""
        operations, shapes = 0, []
        for part in parts:
            cost, shape = self.cost(part)
            operations += cost
            shapes.append(shape)
        return operations, _union(shapes)

    def _comprehension(self, node: Comprehension) -> tuple[int, Shape]:
        operations, source = self.cost(node.range)
        steps = source.size
        outer = self.scope.get(node.variable)
        self.scope[node.variable] = source.element
        bodies = [self.cost(body) for body in node.body]
        if outer is None:
            del self.scope[node.variable]
        else:
            self.scope[node.variable] = outer
        each = sum(cost for cost, _ in bodies) + 2 + source.element.deep()  # bound by copy
        if node.macro == "map":
            shape = Shape(steps, bodies[-1][1])
        elif node.macro == "filter":
            shape = Shape(steps, source.key or source.item)
        else:
            shape = SCALAR
        if shape.size:  # the engine copies the list built so far, deeply, at every step
            each += shape.deep()
        return operations + 1 + shape.deep() + steps * each, shape

    def _call(self, node: Call) -> tuple[int, Shape]:
        parts = ([node.target] if node.target is not None else []) + list(node.args)
        costs = [self.cost(part) for part in parts]
        operations = sum(cost for cost, _ in costs) + 1
        shapes = [shape for _, shape in costs]
        extra, shape = _function(node, shapes)
        made = 0 if node.function in REFERENCES else shape.deep()
        return operations + extra + made, shape


def _function(node: Call, shapes: list[Shape]) -> tuple[int, Shape]:
    """The work of a function beyond evaluating its arguments, and its value's shape."""
    name, count = node.function, len(shapes)
    if name in ("_&&_", "_||_", "!_", "-_", "_-_", "_*_", "_/_", "_%_"):
        return 0, SCALAR
    if name == "_?_:_":
        return 0, shapes[1].union(shapes[2])
    if name == "_+_":  # strings, bytes, lists (maps do not add)
        left, right = shapes
        item = _union(shape for shape in (left.item, right.item) if shape is not None)
        text = left.text and right.text
        return 0, Shape(left.size + right.size, item, text=text)
    if name in ("_==_", "_!=_"):
        return shapes[0].deep() + shapes[1].deep(), SCALAR
    if name in ("_<_", "_<=_", "_>_", "_>=_"):
        return min(shapes[0].work, shapes[1].work), SCALAR
    if name == "@in":
        element, container = shapes
        return element.deep() + container.deep(), SCALAR
    if name == "_[_]":
        index = node.args[1]
        if isinstance(index, Literal) and index.kind == "string":
            return 0, shapes[0].member(str(cel.evaluate(index.text)))
        return 0, shapes[0].item or SCALAR
    if name == "size" and count == 1:
        return shapes[0].work, SCALAR
    if name == "contains" and node.target is not None and count == 2:
        return shapes[0].work + shapes[1].work, SCALAR
    if name in ("startsWith", "endsWith") and node.target is not None and count == 2:
        return shapes[1].work, SCALAR
    if name == "matches" and count == 2:
        return _matches(node, shapes[0]), SCALAR
    if name in ("int", "uint", "double") and node.target is None and count == 1:
        return shapes[0].work, SCALAR
    if name == "string" and node.target is None and count == 1:
        return shapes[0].work, Shape(max(shapes[0].size, 32), text=True)
    raise Unsupported(
        f"関数 {name}() はルールでは使えません / the function {name}() is not available in "
        "rules (size, contains, startsWith, endsWith, matches, int, uint, double, string are)"
    )


def _matches(node: Call, text: Shape) -> int:
    pattern = node.args[-1]
    if not isinstance(pattern, Literal) or pattern.kind != "string":
        raise Unsupported(
            "matches() のパターンは文字列で直接書いてください / the pattern of matches() must "
            "be written as a string literal"
        )
    units = pattern_units(str(cel.evaluate(pattern.text)))
    return REGEX_UNIT_OPERATIONS * units + (text.work + 1) * math.ceil(units / 8)
