"""The shapes the API answers with, for its OpenAPI schema (and for schemathesis to check).

They describe the JSON that ``trustdesk ... --json`` prints (``cases.schemas``,
``intake.service.Outcome``): one contract for scripts whichever way they ask. Extra fields are
allowed so that adding a field to the CLI's JSON never breaks the API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from trustdesk.cases.workflows import OPERATOR_EVENTS


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class IngestLine(_Open):
    """One complaint found in the submitted document (the ``ingest --json`` line)."""

    complaint_id: int
    duplicate: bool
    case_id: int | None
    kind: str
    category: str
    source_ip: str | None
    source_port: int | None
    observed_at: str | None
    in_network: bool
    subscriber_id: str | None
    candidates: list[str]
    complaints: list[IngestLine] | None = Field(
        None, description="Every complaint of the document, when it held more than one"
    )


class Charge(_Open):
    kind: str
    amount_yen: int
    reason: str
    case_id: int | None
    billed_at: str | None


class Action(_Open):
    action: str
    status: str
    reason: str
    case_id: int | None
    requested_at: str | None
    done_at: str | None


class TimelineItem(_Open):
    at: str | None
    actor: str
    event: str
    from_state: str | None
    to_state: str
    note: str
    effects: list[dict[str, Any]]


class NoticeLine(_Open):
    notice_id: int
    case_id: int | None
    template: str
    recipient: str
    to: str | None
    subject: str
    message_id: str
    status: str
    created_at: str | None
    sent_at: str | None
    masked: bool = Field(
        description="A notice to the complainant shown without its address (to) and body, "
        "for a reader who may not see who complained or gave no reason"
    )


class OutboxNotice(NoticeLine):
    """A notice with its text (``outbox list --json``); null when masked."""

    body: str | None


class ReplyLine(_Open):
    """A reply kept with the case; the complainant's comes masked like their notices."""

    reply_id: int
    sender: str | None = Field(alias="from")
    subject: str | None
    sender_role: str | None
    verified: bool
    text: str | None
    masked: bool


class CaseSummary(_Open):
    case_id: int
    reference: str
    workflow: str
    kind: str
    state: str
    closed: bool
    subscriber_id: str | None
    opened_at: str | None
    deadline_at: str | None
    policy_version: str
    version: int = Field(description="Counts the case's changes; send it as expected_version")
    clock: Literal["waits", "failed"] | None = Field(
        None,
        description="The reply clock: waits — the deadline runs from the hand-off of the notice "
        "not yet handed to the mail server (deadline_at is what it would be if handed over at "
        "once); failed — that notice could not be delivered, the period has not started and an "
        "operator decides (resend, or another decision); null — the deadline, if any, runs",
    )


class CaseDetail(CaseSummary):
    """``trustdesk cases show --json``."""

    rung: int
    complaints: list[int]
    charges: list[Charge]
    actions: list[Action]
    timeline: list[TimelineItem]
    notices: list[NoticeLine]
    replies: list[ReplyLine]
    allowed_events: list[str]


class SubscriberDetail(_Open):
    subscriber_id: str
    name: str | None
    email: str | None
    phone: str | None
    status: Literal["active", "suspended", "terminated"] | str
    balance_yen: int
    ledger: list[Charge] | None = Field(description="null for a role that does not read it")
    actions: list[Action]
    cases: list[int]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(
        description="An operator's decision; the case's workflow must allow it in its state "
        "(allowed_events), else 409",
        json_schema_extra={"enum": list[JsonValue](sorted(OPERATOR_EVENTS))},
    )
    note: str | None = Field(None, max_length=2000, description="Why, kept in the timeline")
    expected_version: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="The case's version the decision was made on (version in GET "
        "/cases/{case_id}): if the case changed since, nothing is done and the answer is 409 "
        "case_changed",
    )

    @field_validator("action")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in OPERATOR_EVENTS:
            raise ValueError(f"one of {', '.join(sorted(OPERATOR_EVENTS))}")
        return value


class Deferred(BaseModel):
    """A complaint document kept but not yet recorded (202): the worker records it."""

    document_id: int
    status: str = Field(description="pending: stored, to be recorded by the worker")
    detail: str


class Problem(BaseModel):
    error: str
    detail: str


IngestLine.model_rebuild()
