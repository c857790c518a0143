"""A merchant's CEL expression read into a tree, so its cost can be bounded before it runs.

The engine (``common-expression-language``, Rust) compiles an expression into a program but
shows nothing of its structure, offers no evaluation limit and cannot be interrupted: it holds
the interpreter lock until the program ends. So the service reads each rule itself, with the
grammar of the CEL specification (the one the engine's parser is generated from): tokens as
its lexer rules (strings, raw strings, triple quotes, bytes, numbers, ``//`` comments), then
precedence from ``?:`` down to member access, with the macros expanded as comprehensions.
:mod:`trustdesk.fraud.rule_cost` estimates the tree's cost; :mod:`trustdesk.fraud.rules`
checks that the engine saw the same names and functions.

Pure. Nesting is bounded while parsing (``MAX_DEPTH``), so no input reaches Python's recursion
limit, and the tree handed on is never deeper than that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DEPTH = 48
MACROS = frozenset({"all", "exists", "exists_one", "existsOne", "map", "filter"})


class Unreadable(ValueError):
    """Not CEL this reader understands (a typo, or a form rules do not use)."""


class TooDeep(ValueError):
    """Nested beyond ``MAX_DEPTH``: refused before anything deeper is read."""

    def __init__(self) -> None:
        super().__init__(
            f"式が深すぎます（入れ子と演算子の連なりは{MAX_DEPTH}段まで） / the expression is too "
            f"deep (nesting and chained operators go at most {MAX_DEPTH} levels)"
        )


@dataclass(frozen=True, slots=True)
class Literal:
    """``kind`` is int, uint, double, string, bytes, bool or null; ``text`` as written."""

    kind: str
    text: str
    height: int = 1

    @property
    def size(self) -> int:
        """At least the characters or bytes of a string or bytes literal's value."""
        return len(self.text.encode()) if self.kind in ("string", "bytes") else 0


@dataclass(frozen=True, slots=True)
class Ident:
    name: str
    height: int = 1


@dataclass(frozen=True, slots=True)
class Select:
    """``operand.field``; ``test`` for ``has(operand.field)``."""

    operand: AnyNode
    field: str
    test: bool
    height: int


@dataclass(frozen=True, slots=True)
class Call:
    """A function or operator: ``_+_``, ``_[_]``, ``!_``, ``_?_:_``, ``@in``... as the engine
    names them, or a named function, called on ``target`` for ``target.f(args)``."""

    function: str
    target: AnyNode | None
    args: tuple[AnyNode, ...]
    height: int


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[AnyNode, ...]
    height: int


@dataclass(frozen=True, slots=True)
class MapOf:
    entries: tuple[tuple[AnyNode, AnyNode], ...]
    height: int


@dataclass(frozen=True, slots=True)
class Comprehension:
    """``range.macro(variable, *body)``: ``body`` is the predicate, or ``map``'s transform
    (with a filter first when it has three arguments)."""

    macro: str
    range: AnyNode
    variable: str
    body: tuple[AnyNode, ...]
    height: int


AnyNode = Literal | Ident | Select | Call | ListOf | MapOf | Comprehension


def _height(*children: AnyNode) -> int:
    height = 1 + max((child.height for child in children), default=0)
    if height > MAX_DEPTH:
        raise TooDeep()
    return height


# -- tokens, as the CEL specification's lexer ----------------------------------------------------

_ESCAPE = r"\\(?:[abfnrtv\"'\\?`]|[xX][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-3][0-7]{2})"
_STRING = (
    rf'"""(?:{_ESCAPE}|[^\\])*?"""'
    rf"|'''(?:{_ESCAPE}|[^\\])*?'''"
    rf'|"(?:{_ESCAPE}|[^\\"\n\r])*"'
    rf"|'(?:{_ESCAPE}|[^\\'\n\r])*'"
)
_RAW = r'"""[\s\S]*?"""' r"|'''[\s\S]*?'''" r'|"[^"\n\r]*"' r"|'[^'\n\r]*'"
_TOKEN = re.compile(
    r"(?P<space>[ \t\n\r\f]+|//[^\n\r]*)"
    rf"|(?P<bytes>[bB](?:[rR](?:{_RAW})|{_STRING}))"
    rf"|(?P<string>[rR](?:{_RAW})|{_STRING})"
    r"|(?P<double>(?:[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+"
    r"|\.[0-9]+(?:[eE][+-]?[0-9]+)?))"
    r"|(?P<uint>(?:0x[0-9a-fA-F]+|[0-9]+)[uU])"
    r"|(?P<int>0x[0-9a-fA-F]+|[0-9]+)"
    r"|(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)"
    r"|(?P<operator>==|!=|<=|>=|&&|\|\||[<>!+\-*/%?:.,()\[\]{}])"
)
_WORDS = {"true": "bool", "false": "bool", "null": "null"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # a literal kind, "name", "operator" or "end"
    text: str
    at: int


def tokens(source: str) -> list[_Token]:
    """The tokens of ``source``, comments and white space left out."""
    found: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise Unreadable(f"cannot read {source[position : position + 10]!r} at {position + 1}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "name" and text in _WORDS:
            kind = _WORDS[text]
        elif kind == "name" and text == "in":
            kind = "operator"
        if kind != "space":
            found.append(_Token(kind, text, position))
        position = match.end()
    found.append(_Token("end", "", len(source)))
    return found


# -- the grammar ---------------------------------------------------------------------------------

# Binary operators: how tightly each binds (loosest first) and the engine's name for it.
_BINARY = {
    "||": (1, "_||_"),
    "&&": (2, "_&&_"),
    "==": (3, "_==_"),
    "!=": (3, "_!=_"),
    "<": (3, "_<_"),
    "<=": (3, "_<=_"),
    ">": (3, "_>_"),
    ">=": (3, "_>=_"),
    "in": (3, "@in"),
    "+": (4, "_+_"),
    "-": (4, "_-_"),
    "*": (5, "_*_"),
    "/": (5, "_/_"),
    "%": (5, "_%_"),
}


def parse(source: str) -> AnyNode:
    """The tree of one expression; :class:`Unreadable` or :class:`TooDeep` if there is none."""
    return _Parser(tokens(source)).expression_only()


class _Parser:
    """Recursive descent over the CEL grammar; ``_depth`` counts open sub-expressions so
    that nesting is refused before it can exhaust the stack."""

    def __init__(self, found: list[_Token]) -> None:
        self._tokens = found
        self._at = 0
        self._depth = 0

    def expression_only(self) -> AnyNode:
        tree = self._expression()
        if self._peek().kind != "end":
            raise Unreadable(f"unexpected {self._peek().text!r} at {self._peek().at + 1}")
        return tree

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _next(self) -> _Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _accept(self, text: str) -> bool:
        token = self._peek()
        if token.kind == "operator" and token.text == text:
            self._at += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            token = self._peek()
            raise Unreadable(f"expected {text!r} at {token.at + 1}, found {token.text!r}")

    def _expression(self) -> AnyNode:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise TooDeep()
        condition = self._binary()
        if self._accept("?"):
            then = self._binary()
            self._expect(":")
            otherwise = self._expression()
            condition = Call(
                "_?_:_", None, (condition, then, otherwise), _height(condition, then, otherwise)
            )
        self._depth -= 1
        return condition

    def _binary(self, loosest: int = 1) -> AnyNode:
        """Left-associative operators binding at least as tightly as ``loosest``, by
        precedence climbing (``||`` loosest … ``*`` tightest), then unary."""
        left = self._unary()
        while (token := self._peek()).kind == "operator" and token.text in _BINARY:
            level, function = _BINARY[token.text]
            if level < loosest:
                break
            self._at += 1
            right = self._binary(level + 1)
            left = Call(function, None, (left, right), _height(left, right))
        return left

    def _unary(self) -> AnyNode:
        """``!`` and ``-`` before a member, read in a loop: a run of them is not recursion."""
        prefixes = []
        while (token := self._peek()).kind == "operator" and token.text in ("!", "-"):
            self._at += 1
            prefixes.append("!_" if token.text == "!" else "-_")
        node = self._member()
        for function in reversed(prefixes):
            node = Call(function, None, (node,), _height(node))
        return node

    def _member(self) -> AnyNode:
        node = self._primary()
        while True:
            if self._accept("."):
                name = self._next()
                if name.kind != "name":
                    raise Unreadable(f"expected a field name at {name.at + 1}")
                if self._accept("("):
                    node = self._method(node, name.text, self._arguments(")"))
                else:
                    node = Select(node, name.text, False, _height(node))
            elif self._accept("["):
                index = self._expression()
                self._expect("]")
                node = Call("_[_]", None, (node, index), _height(node, index))
            else:
                return node

    def _method(self, target: AnyNode, name: str, args: tuple[AnyNode, ...]) -> AnyNode:
        if name in MACROS and args and isinstance(args[0], Ident):
            arity = (2, 3) if name == "map" else (2,)
            if len(args) not in arity:
                raise Unreadable(f"{name}() takes a variable and {arity[-1] - 1} expression(s)")
            macro = "exists_one" if name == "existsOne" else name
            return Comprehension(macro, target, args[0].name, args[1:], _height(target, *args))
        return Call(name, target, args, _height(target, *args))

    def _arguments(self, closing: str) -> tuple[AnyNode, ...]:
        items: list[AnyNode] = []
        while not self._accept(closing):
            items.append(self._expression())
            if not self._accept(","):
                self._expect(closing)
                break
        return tuple(items)

    def _primary(self) -> AnyNode:
        token = self._next()
        if token.kind == "name":
            if not self._accept("("):
                return Ident(token.text)
            args = self._arguments(")")
            if token.text == "has":
                return self._has(args, token)
            return Call(token.text, None, args, _height(*args))
        if token.kind not in ("operator", "end"):
            return Literal(token.kind, token.text)
        if token.text == "(":
            inner = self._expression()
            self._expect(")")
            return inner
        if token.text == "[":
            items = self._arguments("]")
            return ListOf(items, _height(*items))
        if token.text == "{":
            return self._map()
        raise Unreadable(f"unexpected {token.text or 'end'!r} at {token.at + 1}")

    def _has(self, args: tuple[AnyNode, ...], token: _Token) -> AnyNode:
        if len(args) != 1 or not isinstance(args[0], Select):
            raise Unreadable(f"has() takes one field selection, at {token.at + 1}")
        field = args[0]
        return Select(field.operand, field.field, True, field.height)

    def _map(self) -> AnyNode:
        entries: list[tuple[AnyNode, AnyNode]] = []
        while not self._accept("}"):
            key = self._expression()
            self._expect(":")
            value = self._expression()
            entries.append((key, value))
            if not self._accept(","):
                self._expect("}")
                break
        return MapOf(tuple(entries), _height(*(part for entry in entries for part in entry)))


def walk(node: AnyNode) -> list[AnyNode]:
    """Every node of the tree, the root first."""
    found: list[AnyNode] = []
    pending = [node]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children(current))
    return found


def children(node: AnyNode) -> tuple[AnyNode, ...]:
    if isinstance(node, Select):
        return (node.operand,)
    if isinstance(node, Call):
        return (*((node.target,) if node.target is not None else ()), *node.args)
    if isinstance(node, ListOf):
        return node.items
    if isinstance(node, MapOf):
        return tuple(part for entry in node.entries for part in entry)
    if isinstance(node, Comprehension):
        return (node.range, *node.body)
    return ()
