"""What a workflow step wants done, as values (STYLE 3: decisions are values).

A transition never sends mail, bills or touches the network: it returns these, and an executor
performs them after the step is committed, so a rolled-back step leaves nothing behind.
Each value checks itself when built, so a wrong template name or a fractional amount fails in the
workflow that made it, not in the executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trustdesk.cases.notices import TEMPLATE_NAMES

# Every notice a workflow step may send: the templates there are, but those that belong to no
# case step (cases.outbox): intake's receipt and a member's link to their own settings.
TEMPLATES: frozenset[str] = TEMPLATE_NAMES - {"intake.receipt", "network.member_link"}

BILL_KINDS: frozenset[str] = frozenset(
    {
        "spam_damages",
        "spam_handling",
        "spam_penalty",
        "spam_penalty_handling",
        "reconnection",
        "termination_handling",
    }
)


@dataclass(frozen=True)
class SendNotice:
    """Send the notice ``template`` to the subscriber or to the complainant.

    ``starts_clock``: the step's reply period runs from this notice's hand-off to the mail
    server, not from the step (issue 17; seed 001: 72 hours from the mail that asks for the
    report). Until then the case's deadline waits (``Case.clock``)."""

    template: str
    recipient: Literal["subscriber", "complainant"]
    starts_clock: bool = False

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise ValueError(f"unknown notice template {self.template!r}")
        if self.recipient not in ("subscriber", "complainant"):
            raise ValueError(f"unknown notice recipient {self.recipient!r}")


@dataclass(frozen=True)
class Bill:
    """Charge the subscriber ``amount_yen`` (whole yen, fractions cut: seed 002 §12)."""

    kind: str
    amount_yen: int
    reason: str

    def __post_init__(self) -> None:
        if self.kind not in BILL_KINDS:
            raise ValueError(f"unknown bill kind {self.kind!r}")
        if isinstance(self.amount_yen, bool) or not isinstance(self.amount_yen, int):
            raise ValueError(f"a bill is in whole yen, not {self.amount_yen!r}")
        if self.amount_yen < 0:
            raise ValueError(f"a bill cannot be negative ({self.amount_yen} yen)")


@dataclass(frozen=True)
class Enforce:
    """Act on the subscriber's service or content."""

    action: Literal["suspend", "resume", "terminate", "takedown", "restrict", "lift"]
    reason: str

    def __post_init__(self) -> None:
        if self.action not in ("suspend", "resume", "terminate", "takedown", "restrict", "lift"):
            raise ValueError(f"unknown enforcement action {self.action!r}")


Effect = SendNotice | Bill | Enforce


def yen(amount: int) -> str:
    """An amount as people read it in notices and reasons: ``10,800 yen``."""
    return f"{amount:,} yen"
