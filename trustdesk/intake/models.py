"""Stored complaints: the raw document first, then one complaint per event found in it.

Every document is committed before it is parsed, so nothing accepted is lost if parsing fails or
the process dies (a ``pending`` document is picked up again by ``trustdesk intake retry``). The
complainant's identity lives in its own table, apart from anything a subscriber may be shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trustdesk.db import Base, UTCDateTime


class Document(Base):
    """A complaint document exactly as received (mail, CSV, JSON): the evidence of record."""

    __tablename__ = "intake_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str | None] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    error: Mapped[str | None] = mapped_column(Text)


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("intake_documents.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(100))
    source_format: Mapped[str] = mapped_column(String(32))
    source_ip: Mapped[str | None] = mapped_column(String(64), index=True)
    source_port: Mapped[int | None] = mapped_column(Integer)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(String(253))
    in_network: Mapped[bool] = mapped_column(Boolean)
    subscriber_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscribers.subscriber_id"), index=True
    )
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    attribution: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence: Mapped[str] = mapped_column(Text)

    complainant: Mapped[ComplainantIdentity | None] = relationship(
        back_populates="complaint", uselist=False, cascade="all, delete-orphan"
    )

    @property
    def reference(self) -> str:
        return complaint_reference(self.id)


def complaint_reference(complaint_id: int) -> str:
    """The reference number a complainant is given (the receipt, the form's answer page); a
    case has its own (``TD-000123``), and a complaint may never open one."""
    return f"TDC-{complaint_id:06d}"


class ComplainantIdentity(Base):
    """Who complained. Kept apart: a notice to the subscriber is built without this table."""

    __tablename__ = "complainant_identities"

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    organisation: Mapped[str | None] = mapped_column(String(300))
    postal_address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(60))
    message_id: Mapped[str | None] = mapped_column(String(500))
    consents_to_disclosure: Mapped[bool] = mapped_column(Boolean, default=False)

    complaint: Mapped[Complaint] = relationship(back_populates="complainant")

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "organisation": self.organisation,
            "postal_address": self.postal_address,
            "phone": self.phone,
            "message_id": self.message_id,
            "consents_to_disclosure": self.consents_to_disclosure,
        }


class FormUpload(Base):
    """A file attached to a public form (intake.uploads), kept with the document the form
    became: evidence like the document itself, read only through an audited download."""

    __tablename__ = "form_uploads"
    __table_args__ = (UniqueConstraint("document_id", "role", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("intake_documents.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))  # request_form | seal_certificate | ... | eml
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
