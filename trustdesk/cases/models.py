"""Cases: complaints about one subscriber grouped and run through their workflow.

A case keeps the policy it runs under (a later policy change does not rewrite history), its
state and stored deadline (the worker fires it when due), and a timeline of every change.
Notices wait in the outbox, written in the same transaction as the state change that caused
them, and are delivered after commit; enforcement actions likewise wait to be handed over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.db import Base, UTCDateTime


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_open_by_subscriber", "subscriber_id", "workflow", "closed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow: Mapped[str] = mapped_column(String(16))  # spam | takedown | abuse
    kind: Mapped[str] = mapped_column(String(32))  # the complaint kind that opened it
    state: Mapped[str] = mapped_column(String(40))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    subscriber_id: Mapped[str | None] = mapped_column(ForeignKey("subscribers.subscriber_id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    policy_version: Mapped[str] = mapped_column(String(40))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    rung: Mapped[int] = mapped_column(Integer, default=0)
    device: Mapped[bool] = mapped_column(Boolean, default=False)
    election: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(String(100))
    # Set when an operator merged this case into another (cases.service.merge); the state is
    # then "closed_merged", reached through the workflow like every other state.
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # Counts the changes of the case (issue 17): every UPDATE of the row checks the version it
    # read and adds one (``version_id_col``), and ``service.lock_case`` adds one when it locks,
    # so a decision sent with the version the operator saw is refused once anything changed it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    # The reply clock (issue 17): "waits" — the deadline runs from the hand-off of the case's
    # latest notice that starts_clock, not yet handed over, so the worker does not fire it;
    # "failed" — that notice could not be delivered: no deadline, an operator decides; None —
    # the deadline (if any) runs. Set only by ``service.apply`` (and ``outbox.keep_pending``
    # without SMTP, where a kept notice counts as delivered when written).
    clock: Mapped[str | None] = mapped_column(String(8), index=True)

    __mapper_args__ = {"version_id_col": version}

    @property
    def reference(self) -> str:
        """What notices carry in their subject, so that replies find the case."""
        return f"TD-{self.id:06d}"


class CaseComplaint(Base):
    """A complaint belongs to at most one case."""

    __tablename__ = "case_complaints"
    # A case's complaints in order: its first and latest are found at the ends (cases.facts).
    __table_args__ = (Index("ix_case_complaints_case_complaint", "case_id", "complaint_id"),)

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TimelineEntry(Base):
    __tablename__ = "case_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notice(Base):
    """The outbox: every notice is kept here with its case, sent or not."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # A receipt for a complaint filed on a public form belongs to the complaint, not a case.
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    template: Mapped[str] = mapped_column(String(60))
    lang: Mapped[str] = mapped_column(String(5))
    recipient: Mapped[str] = mapped_column(String(20))  # subscriber | complainant
    to_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a worker hands the notice to the relay (cases.claims): no other worker takes it
    # until then; a worker that died mid-way leaves it to the next claim after this time.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The case's reply period runs from this notice's hand-off (effects.SendNotice).
    starts_clock: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EnforcementAction(Base):
    """Suspend, resume, terminate or take down: recorded, then handed to provisioning."""

    __tablename__ = "enforcement_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    subscriber_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscribers.subscriber_id"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending (to hand over, again at next_attempt_at after a failure) | done | failed (gave up
    # after provisioning.max_attempts; `trustdesk actions retry` hands it over again) | kept (no
    # provisioning configured: carried out by hand)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as Notice's


class CaseReply(Base):
    """A mail that answers a case's notice (or an operator's record of one): evidence kept with
    the case. The raw mail stays in ``intake_documents``; ``verified`` says whether the From
    address is one the case's notices went to, the only way a reply counts as the recipient's.
    """

    __tablename__ = "case_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("intake_documents.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    from_address: Mapped[str | None] = mapped_column(String(320))
    message_id: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(Text)
    matched_by: Mapped[str] = mapped_column(String(20))  # message-id | reference | operator
    sender_role: Mapped[str | None] = mapped_column(String(20))  # subscriber | complainant
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    text: Mapped[str] = mapped_column(Text)  # the reply's readable text, for the console
