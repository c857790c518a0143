"""Who held an address at an instant: pure decisions over the holdings the registry found.

SPEC §2: every complaint is tied to the subscriber who held the address or site at the time —
static prefixes, dynamic RADIUS sessions, CGNAT port blocks (IP + port + time), hosted sites.
The service fetches candidate rows; this module decides, so the rules are tested without a
database. A subscriber is named only when no other could have held the address within the
clock-skew margin; otherwise every possible holder is listed as a candidate for an operator.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from trustdesk.timeutil import iso_jst


@dataclass(frozen=True)
class Holding:
    """Evidence that ``subscriber_id`` held the address from ``held_from`` until ``held_until``
    (exclusive; None while still held). ``subscriber_id`` is None when the holder is known only
    by a RADIUS user name that matches no subscriber."""

    kind: str  # static | site | radius | cgnat
    subscriber_id: str | None
    held_from: datetime
    held_until: datetime | None
    evidence: dict[str, Any]

    def covers(self, moment: datetime) -> bool:
        return self.held_from <= moment and (self.held_until is None or moment < self.held_until)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the holding meets the closed window [start, end]."""
        return self.held_from <= end and (self.held_until is None or self.held_until > start)

    def described(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subscriber_id": self.subscriber_id,
            "held_from": iso_jst(self.held_from),
            "held_until": iso_jst(self.held_until),
            **self.evidence,
        }


@dataclass(frozen=True)
class Decision:
    subscriber_id: str | None
    candidates: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]
    reason: str


def supersede(
    holdings: Sequence[Holding], competes: Callable[[Holding, Holding], bool] | None = None
) -> list[Holding]:
    """End each holding no later than the next competing one begins.

    A dynamic address belongs to the most recent session that took it: a session whose Stop was
    lost stays open in the logs, but once another session is given the address the first one
    cannot hold it any more. ``competes(a, b)`` says whether two holdings are on the same
    resource (for port blocks: overlapping port ranges); by default all of them are.
    """
    if len(holdings) < 2:
        return list(holdings)
    ordered = sorted(holdings, key=lambda h: h.held_from)
    result = []
    for index, holding in enumerate(ordered):
        successor = next(
            (
                later
                for later in ordered[index + 1 :]
                if later.held_from > holding.held_from
                and (competes is None or competes(holding, later))
            ),
            None,
        )
        if successor is not None and (
            holding.held_until is None or successor.held_from < holding.held_until
        ):
            holding = replace(
                holding,
                held_until=successor.held_from,
                evidence={**holding.evidence, "ended_by_successor": True},
            )
        result.append(holding)
    return result


def chain(outer: Holding, inner: Iterable[Holding]) -> list[Holding]:
    """Compose a CGNAT block with the sessions of its inside address: the subscriber held the
    public address and port while both the block and the inside session were in force."""
    composed = []
    for session in inner:
        start = max(outer.held_from, session.held_from)
        ends = [end for end in (outer.held_until, session.held_until) if end is not None]
        end = min(ends) if ends else None
        if end is not None and end <= start:
            continue
        composed.append(
            Holding(
                kind=outer.kind,
                subscriber_id=session.subscriber_id,
                held_from=start,
                held_until=end,
                evidence={**outer.evidence, "inside_session": session.described()},
            )
        )
    if not composed:
        composed.append(replace(outer, evidence={**outer.evidence, "inside_session": None}))
    return composed


def decide(holdings: Iterable[Holding], at: datetime, skew: timedelta) -> Decision:
    """Name the holder at ``at`` if exactly one subscriber could have held the address.

    Every holding within the clock-skew window is a possible holder, known or not: a session
    whose user matches no subscriber, ending 10 s before the reported time with a 60 s margin,
    could have been the one the complainant saw, so it stops the naming just as a known
    neighbour does (notifying the wrong customer is worse than asking an operator)."""
    window = [h for h in holdings if h.overlaps(at - skew, at + skew)]
    if not window:
        return Decision(None, (), (), "no subscriber held this address at that time")
    candidates = tuple(sorted({h.subscriber_id for h in window if h.subscriber_id}))
    evidence = tuple(h.described() for h in _in_order(window))
    exact = [h for h in window if h.covers(at)]
    unknown_holder = any(h.subscriber_id is None for h in window)
    if len(candidates) == 1 and exact and not unknown_holder:
        return Decision(candidates[0], candidates, evidence, f"held by {candidates[0]}")
    if any(h.subscriber_id is None for h in exact):
        reason = "held by a session whose user matches no subscriber"
    elif unknown_holder:
        reason = "a session whose user matches no subscriber held it within the clock margin"
    elif not exact:
        reason = "no holder at that instant; neighbouring holders within the clock margin listed"
    else:
        reason = f"{len(candidates)} subscribers could have held this address; an operator decides"
    return Decision(None, candidates, evidence, reason)


def _in_order(holdings: list[Holding]) -> list[Holding]:
    """By start; holdings that start at the same instant (two sessions begun in the same
    second) in an order of their own, not the order the rows happened to come in, so the same
    registry always gives the same evidence."""
    ordered = sorted(holdings, key=lambda h: h.held_from)
    if all(a.held_from != b.held_from for a, b in itertools.pairwise(ordered)):
        return ordered
    return sorted(ordered, key=lambda h: (h.held_from, json.dumps(h.described(), sort_keys=True)))
