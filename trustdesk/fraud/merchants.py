"""Merchants and their API keys (seed 004 §33: each merchant its own credentials).

A key is shown once when it is made (``trustdesk.access.keys``) and kept as a hash; revoking
it stops it at the next request. A new merchant starts with the default rule set as version 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from trustdesk.access import keys
from trustdesk.fraud.defaults import DEFAULT_RULE_SET
from trustdesk.fraud.exceptions import Conflict, MerchantNotFound
from trustdesk.fraud.models import Merchant, MerchantKey, RuleSetVersion
from trustdesk.timeutil import iso_jst


@dataclass(frozen=True)
class NewMerchant:
    merchant_id: int
    name: str
    key_id: str
    api_key: str

    def as_json(self) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id,
            "name": self.name,
            "key_id": self.key_id,
            "api_key": self.api_key,
        }


def add_merchant(
    session: Session, name: str, now: datetime, order_window_days: int | None = None
) -> NewMerchant:
    """A merchant with the default rules (version 1) and one key. ``order_window_days``
    overrides the policy's window for old orders (seed 004 §17-2-3)."""
    clean = name.strip()
    if not clean:
        raise Conflict("a merchant needs a name")
    if session.scalar(select(Merchant.id).where(Merchant.name == clean)) is not None:
        raise Conflict(f"a merchant named {clean!r} exists already")
    merchant = Merchant(
        name=clean, created_at=now, active_version=1, order_window_days=order_window_days
    )
    session.add(merchant)
    session.flush()
    document = DEFAULT_RULE_SET.as_json()
    session.add(
        RuleSetVersion(
            merchant_id=merchant.id,
            version=1,
            rules=document["rules"],
            thresholds=document["thresholds"],
            fingerprint=DEFAULT_RULE_SET.fingerprint(),
            note="default rule set",
            created_at=now,
            activated_at=now,
        )
    )
    key_id, plaintext = issue_key(session, merchant.id, now)
    return NewMerchant(merchant.id, clean, key_id, plaintext)


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id}")
    return merchant


def issue_key(session: Session, merchant_id: int, now: datetime) -> tuple[str, str]:
    """A new key for the merchant: ``(key id, plaintext)``; the plaintext is not kept."""
    get_merchant(session, merchant_id)
    new = keys.make_key()
    session.add(
        MerchantKey(
            key_id=new.key_id, merchant_id=merchant_id, secret_hash=new.secret_hash, created_at=now
        )
    )
    return new.key_id, new.plaintext


def revoke(session: Session, merchant_id: int, now: datetime, key_id: str | None = None) -> int:
    """Revoke one key of the merchant, or all its keys; the number revoked."""
    get_merchant(session, merchant_id)
    query = select(MerchantKey).where(
        MerchantKey.merchant_id == merchant_id, MerchantKey.revoked_at.is_(None)
    )
    if key_id is not None:
        query = query.where(MerchantKey.key_id == key_id)
    revoked = 0
    for key in session.scalars(query):
        key.revoked_at = now
        revoked += 1
    return revoked


def list_merchants(session: Session) -> list[dict[str, Any]]:
    """Every merchant with its active rule version and key ids (never secrets)."""
    active: dict[int, list[str]] = {}
    for row in session.execute(
        select(MerchantKey.merchant_id, MerchantKey.key_id)
        .where(MerchantKey.revoked_at.is_(None))
        .order_by(MerchantKey.created_at)
    ):
        active.setdefault(row.merchant_id, []).append(row.key_id)
    return [
        {
            "merchant_id": merchant.id,
            "name": merchant.name,
            "created_at": iso_jst(merchant.created_at),
            "rules_version": merchant.active_version,
            "order_window_days": merchant.order_window_days,
            "active_keys": active.get(merchant.id, []),
        }
        for merchant in session.scalars(select(Merchant).order_by(Merchant.id))
    ]


# A key that has not been revoked, with the hash its secret must match (seed 004 §33).
KEY_ROW = select(MerchantKey.merchant_id, MerchantKey.secret_hash).where(
    MerchantKey.key_id == bindparam("key_id"), MerchantKey.revoked_at.is_(None)
)


def authenticate(session: Session | Connection, plaintext: str) -> int | None:
    """The merchant a presented key belongs to, or None for a wrong, unknown or revoked key."""
    parts = keys.split_key(plaintext)
    if parts is None:
        return None
    key_id, secret = parts
    row = session.execute(KEY_ROW, {"key_id": key_id}).first()
    if row is None or not keys.secret_matches(secret, row.secret_hash):
        return None
    return int(row.merchant_id)
