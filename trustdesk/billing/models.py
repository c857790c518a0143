"""The subscriber's account: charges the policy bills, as ledger entries billing later collects.

SPEC §5 and seed 002 §12: money is whole yen, fractions below one yen cut. An entry is never
changed; a correction is a new entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.db import Base, UTCDateTime


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.subscriber_id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    amount_yen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    billed_at: Mapped[datetime] = mapped_column(UTCDateTime)
