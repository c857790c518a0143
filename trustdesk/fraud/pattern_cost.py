"""What a regular expression in a rule costs the engine to compile (``matches``).

The engine compiles a rule's pattern at every evaluation, and the cost of compiling depends on
the automaton, not on the pattern's length: ``\\w{100}`` took 105 ms, ``.{100}`` 0.7 ms,
``a{100}`` 0.04 ms (measured, ``docs/fraud.md``). So a pattern is read here — groups,
classes, escapes, repetitions — and given a size in units that grows as the compiled automaton
does; Unicode classes (``\\w \\d \\s \\p \\b``) are refused, their automata being
thousands of states. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass


class Unsupported(ValueError):
    """A form rules may not use (here: a pattern) whose cost cannot be bounded."""


_CLASS_ESCAPES = frozenset("dDwWsSpPbB")
_ALLOWED_ESCAPES = frozenset("ntrfvaAzxuU")
_WIDE = 10  # '.' and a class: many code points, a UTF-8 automaton each


def pattern_units(pattern: str) -> int:
    """The size of ``pattern`` once compiled, roughly: each atom its units (a character its
    UTF-8 bytes, ``.`` or a class 10), counted repetitions multiplied out, alternatives added,
    case-insensitive six times (case folding widens every class)."""
    reader = _Pattern(pattern)
    units = reader.alternation()
    if reader.at != len(pattern):
        raise _unreadable(pattern)
    return units * (6 if reader.folds else 1)


def _unreadable(pattern: str) -> Unsupported:
    return Unsupported(
        f"正規表現 {pattern!r} を読めません / cannot read the regular expression {pattern!r}"
    )


MAX_GROUPS = 32  # groups inside groups: deeper patterns are refused before they are read


@dataclass
class _Pattern:
    text: str
    at: int = 0
    folds: bool = False
    depth: int = 0

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def alternation(self) -> int:
        units = self.sequence()
        while self._peek() == "|":
            self.at += 1
            units += self.sequence()
        return units

    def sequence(self) -> int:
        units = 0
        while self._peek() not in ("", "|", ")"):
            atom = self.atom()
            units += atom * self.repetition()
        return units

    def atom(self) -> int:
        char = self.text[self.at]
        self.at += 1
        if char == "(":
            self.depth += 1
            if self.depth > MAX_GROUPS:
                raise _unreadable(self.text)
            self._group_flags()
            inner = self.alternation()
            if self._peek() != ")":
                raise _unreadable(self.text)
            self.at += 1
            self.depth -= 1
            return inner
        if char == "[":
            return self._class()
        if char == "\\":
            return self._escape()
        if char == ".":
            return _WIDE
        if char in "^$":
            return 0
        if char in "*+?{":
            raise _unreadable(self.text)
        return len(char.encode())

    def _group_flags(self) -> None:
        if self._peek() != "?":
            return
        end = self.at + 1
        while end < len(self.text) and self.text[end] not in ":)":
            end += 1
        flags = self.text[self.at + 1 : end]
        if flags.startswith(("P<", "<")):  # a named group
            self.at = self.text.index(">", self.at) + 1
            return
        if "i" in flags.split("-")[0]:
            self.folds = True
        self.at = end + 1 if end < len(self.text) and self.text[end] == ":" else end

    def _class(self) -> int:
        """A character class, read to its end; a range like 一-龥 or a negated class compiles
        like ``.`` (measured), so every class counts as wide."""
        depth, first = 1, True
        while depth:
            if self.at >= len(self.text):
                raise _unreadable(self.text)
            char = self.text[self.at]
            self.at += 1
            if char == "\\":
                self._escape()
            elif char == "^" and first:
                continue
            elif char == "[":
                depth += 1
            elif char == "]" and not first:
                depth -= 1
            first = False
        return _WIDE

    def _escape(self) -> int:
        char = self._peek()
        self.at += 1
        if char in _CLASS_ESCAPES:
            raise Unsupported(
                f"正規表現に \\{char} は使えません。[0-9] や [A-Za-z_] のように書いてください / "
                f"regular expressions may not use \\{char} (a Unicode class): write [0-9], "
                "[A-Za-z_] or [ \\t]"
            )
        if char.isalnum() and char not in _ALLOWED_ESCAPES:
            raise _unreadable(self.text)
        return 3 if char == "x" else 1

    def repetition(self) -> int:
        times = 1
        while (char := self._peek()) in ("*", "+", "?", "{"):
            self.at += 1
            if char == "{":
                end = self.text.find("}", self.at)
                bounds = self.text[self.at : end].split(",") if end > 0 else ["?"]
                if not all(part.strip().isdigit() or not part.strip() for part in bounds):
                    raise _unreadable(self.text)
                numbers = [int(part) for part in bounds if part.strip()]
                times *= max(numbers, default=0) + (1 if bounds[-1].strip() == "" else 0)
                self.at = end + 1
            if self._peek() == "?":  # lazy
                self.at += 1
        return times
