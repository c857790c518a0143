"""The audit trail: every read of connection logs and personal data, append-only, hash-chained.

Seed 002 §23 (secrecy of communications) and SPEC §7: connection logs are shown only to those
who need them, and every access is logged. Each entry carries the hash of the one before, so a
deleted or edited entry breaks the chain (``privacy.service.verify_chain``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The end of the chain: the last entry's id and hash, in one row (id 1) that every append
    locks and moves (``privacy.service.record_access``). Appends wait for one another on it, so
    no two entries follow the same one (two writers both reading the last entry forked the
    chain, issue 17); and an entry deleted from the end no longer leaves a shorter chain that
    verifies."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int | None] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))
