"""What every intake parser returns: one ``Report`` per complaint found in a document.

Parsers are pure (bytes in, reports out). Storage, attribution and duplicate detection happen in
``intake.service``. The complainant's identity travels in its own object so that it is stored apart
from anything a subscriber may be shown (SPEC section 1: the sender is told "without disclosing
who complained"; seed 000 spam flow step 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# "traffic": a hosted site over the daily limit, reported by network.traffic_service (§25-2)
Kind = Literal["spam", "takedown", "abuse", "vulnerable_device", "traffic"]


class UnparseableDocument(ValueError):
    """The document is not any format trustdesk reads; the message says why, for an operator."""


@dataclass(frozen=True)
class Complainant:
    """Who complained. Never shown to the subscriber unless ``consents_to_disclosure``."""

    name: str | None = None
    email: str | None = None
    organisation: str | None = None
    postal_address: str | None = None
    phone: str | None = None
    message_id: str | None = None  # Message-ID of the complaint mail itself
    consents_to_disclosure: bool = False


@dataclass(frozen=True)
class Report:
    """One complaint as read from a document, before it is stored or attributed.

    ``fingerprint`` names the event, not the bytes: two deliveries of the same complaint (the same
    mail re-sent, the same feed row in two files) have the same fingerprint and are stored once.
    """

    kind: Kind
    category: str
    source_format: str  # forwarded-mail | arf | xarf-0.2 | xarf-4 | shadowserver | form
    fingerprint: tuple[str, ...]
    evidence: str  # the part of the original that proves this event (mail, CSV header + row, JSON)
    complainant: Complainant = field(default_factory=Complainant)
    source_ip: str | None = None
    source_port: int | None = None
    observed_at: datetime | None = None  # timezone-aware
    url: str | None = None
    domain: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
