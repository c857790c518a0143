"""The shared known-fraud database (seed 004 §17-1-2): fed by feedback and operator imports.

Only keyed hashes of normalised values are stored. A merchant's chargeback or confirmed fraud
adds the order's e-mail, phone, shipping address, device, card and IP; the billing address is
left out on purpose: with a stolen card it is the cardholder's — the victim's — address. A
later "legitimate" for the same order takes its entries out again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from trustdesk.fraud import normalize
from trustdesk.fraud.addresses import Address, normalise
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.models import KnownFraud, ScoredOrder

FRAUD_OUTCOMES = frozenset({"chargeback", "confirmed_fraud"})
KINDS = ("email", "phone", "address", "device", "card", "ip")

_ADDRESS_FIELDS = ("postal_code", "prefecture", "city", "street", "building")


def normalised_value(kind: str, value: Any) -> str | None:
    """The normalised form of an imported value, as scoring would compute it."""
    if kind == "address":
        if not isinstance(value, dict):
            raise ValueError("an address is an object with postal_code, prefecture, city, street")
        parts = {name: str(value.get(name) or "") for name in _ADDRESS_FIELDS}
        return normalise(Address(**parts)).key
    if not isinstance(value, str):
        raise ValueError(f"a {kind} is a string")
    readers: dict[str, Callable[[str], str | None]] = {
        "email": normalize.email,
        "phone": normalize.phone,
        "device": normalize.token,
        "card": normalize.token,
        "ip": normalize.ip_key,
    }
    return readers[kind](value)


def record_fraud(session: Session, order: ScoredOrder, source: str, now: datetime) -> int:
    """Enter a fraudulent order's values in the database; the number of entries it now has."""
    retract(session, order.id)
    rows = [
        {
            "key_hash": key_hash,
            "kind": kind,
            "source": source,
            "merchant_id": order.merchant_id,
            "order_pk": order.id,
            "note": "",
            "added_at": now,
        }
        for kind, key_hash in order.keys().items()
    ]
    if rows:
        session.execute(insert(KnownFraud), rows)
    return len(rows)


def retract(session: Session, order_pk: int) -> None:
    """Take out what an order's earlier fraud feedback entered."""
    session.execute(delete(KnownFraud).where(KnownFraud.order_pk == order_pk))


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"added": self.added, "duplicates": self.duplicates, "errors": self.errors}


def import_entries(
    session: Session, hasher: Hasher, lines: Iterable[str], source_name: str, now: datetime
) -> ImportReport:
    """Import JSON lines ``{"kind": ..., "value": ..., "note": ...}``; a bad line is reported
    as ``FILE:LINE: reason`` and the good ones are kept. Importing a file twice adds nothing."""
    report = ImportReport()
    batch: dict[bytes, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            entry = _entry(hasher, line, now)
        except ValueError as exc:
            report.errors.append(f"{source_name}:{number}: {exc}")
            continue
        if entry["key_hash"] in batch:
            report.duplicates += 1
        batch[entry["key_hash"]] = entry
        if len(batch) >= 1000:
            _store(session, batch, report)
            batch = {}
    _store(session, batch, report)
    return report


def _entry(hasher: Hasher, line: str, now: datetime) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(item, dict):
        raise ValueError('each line is an object {"kind": ..., "value": ...}')
    kind = item.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    value = normalised_value(kind, item.get("value"))
    if not value:
        raise ValueError(f"the {kind} cannot be read")
    return {
        "key_hash": hasher(kind, value),
        "kind": kind,
        "source": "import",
        "merchant_id": None,
        "order_pk": None,
        "note": str(item.get("note", ""))[:500],
        "added_at": now,
    }


def _store(session: Session, batch: dict[bytes, dict[str, Any]], report: ImportReport) -> None:
    if not batch:
        return
    present = set(
        session.scalars(
            select(KnownFraud.key_hash).where(
                KnownFraud.key_hash.in_(list(batch)), KnownFraud.source == "import"
            )
        )
    )
    fresh = [entry for digest, entry in batch.items() if digest not in present]
    report.duplicates += len(batch) - len(fresh)
    report.added += len(fresh)
    if fresh:
        session.execute(insert(KnownFraud), fresh)
