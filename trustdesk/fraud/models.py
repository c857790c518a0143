"""Tables of the fraud-scoring service (seed 004 §17, §25, §33, §37).

Every row a merchant can see carries its ``merchant_id``, and every query a merchant's request
makes filters on it: one merchant never reads another's orders, rules or results (§37). The
shared known-fraud database holds only keyed hashes of normalised values, never the values,
so matching across merchants shows nobody another merchant's customers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.db import Base, UTCDateTime
from trustdesk.fraud.features import VELOCITY_KINDS


class Merchant(Base):
    """A contractor of the fraud-detection service (seed 004 §2-2)."""

    __tablename__ = "fraud_merchants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active_version: Mapped[int] = mapped_column(Integer, default=1)
    # seed 004 §17-2-3: only orders not yet fulfilled; older orders than this are refused.
    # None means the policy's fraud_order_window_days.
    order_window_days: Mapped[int | None] = mapped_column(Integer)


class MerchantKey(Base):
    """An API key (seed 004 §33: each merchant's own credentials), kept as a hash."""

    __tablename__ = "fraud_merchant_keys"

    key_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("fraud_merchants.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RuleSetVersion(Base):
    """One version of a merchant's logic (seed 004 §17-1-3); never changed once stored."""

    __tablename__ = "fraud_rule_sets"
    __table_args__ = (UniqueConstraint("merchant_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("fraud_merchants.id"))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    thresholds: Mapped[dict[str, int]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))  # rules.RuleSet.fingerprint
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScoredOrder(Base):
    """An order as scored: what was sent, the features, the result and what followed."""

    __tablename__ = "fraud_orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "order_id"),
        Index("ix_fraud_orders_queue", "merchant_id", "band", "shipped_at"),
        Index("ix_fraud_orders_scored", "merchant_id", "scored_at"),
        # velocity: the orders of 30 days with one value, found by the value's key and time
        *(
            Index(f"ix_fraud_orders_{kind}_key", f"{kind}_key", "ordered_at")
            for kind in VELOCITY_KINDS
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("fraud_merchants.id"))
    order_id: Mapped[str] = mapped_column(String(64))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount_yen: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(64))
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rules_version: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    band_at_shipment: Mapped[str | None] = mapped_column(String(8))
    # seed 004 §25: covered only when shipped while the band was 低 or 信頼性高.
    guarantee_eligible: Mapped[bool | None] = mapped_column(Boolean)
    shipment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The keyed hashes (``hashing.Hasher``) of the normalised values velocity counts, also
    # what confirmed fraud enters in the known-fraud database; None for a value not given.
    email_key: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    phone_key: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    address_key: Mapped[bytes | None] = mapped_column(LargeBinary(16))  # shipping address
    device_key: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    card_key: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    ip_key: Mapped[bytes | None] = mapped_column(LargeBinary(16))

    def keys(self) -> dict[str, bytes]:
        """The order's value hashes by kind, for the values it has."""
        return {
            kind: key
            for kind in VELOCITY_KINDS
            if (key := getattr(self, f"{kind}_key")) is not None
        }


class KnownFraud(Base):
    """One entry of the shared known-fraud database: a keyed hash and where it came from.

    ``merchant_id`` and ``order_pk`` say which merchant's feedback made it, for retracting it;
    they are never shown to another merchant (seed 004 §37).
    """

    __tablename__ = "fraud_known"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(20))  # chargeback | confirmed_fraud | import
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("fraud_merchants.id"))
    order_pk: Mapped[int | None] = mapped_column(ForeignKey("fraud_orders.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Review(Base):
    """A reviewer's decision on an order in the manual review queue (band 中)."""

    __tablename__ = "fraud_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("fraud_orders.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # ship | cancel | hold
    reviewer: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
