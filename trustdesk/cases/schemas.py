"""The JSON shapes of a case's rows, shared by the CLI and the API.

Field names are a contract with scripts outside the project (issue 3): keep them, add freely.
Pure: the rows are read, masked and audited by ``cases.views``, which every surface calls.
"""

from __future__ import annotations

from typing import Any

from trustdesk.billing.models import LedgerEntry
from trustdesk.cases.models import Case, CaseReply, EnforcementAction, Notice, TimelineEntry
from trustdesk.timeutil import iso_jst


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "reference": case.reference,
        "workflow": case.workflow,
        "kind": case.kind,
        "state": case.state,
        "closed": case.closed,
        "subscriber_id": case.subscriber_id,
        "opened_at": iso_jst(case.opened_at),
        "deadline_at": iso_jst(case.deadline_at),
        "policy_version": case.policy_version,
        "assignee": case.assignee,
        "version": case.version,
        "clock": case.clock,
    }


def notice_json(notice: Notice, with_body: bool = True) -> dict[str, Any]:
    line = {
        "notice_id": notice.id,
        "case_id": notice.case_id,
        "template": notice.template,
        "recipient": notice.recipient,
        "to": notice.to_address,
        "subject": notice.subject,
        "message_id": notice.message_id,
        "status": notice.status,
        "created_at": iso_jst(notice.created_at),
        "sent_at": iso_jst(notice.sent_at),
        "attempts": notice.attempts,
        "last_error": notice.last_error,
    }
    if with_body:
        line["body"] = notice.body
    return line


def charge_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "amount_yen": entry.amount_yen,
        "reason": entry.reason,
        "case_id": entry.case_id,
        "billed_at": iso_jst(entry.billed_at),
    }


def action_json(action: EnforcementAction) -> dict[str, Any]:
    """An enforcement action and where its hand-over to provisioning stands."""
    return {
        "action_id": action.id,
        "action": action.action,
        "status": action.status,
        "reason": action.reason,
        "case_id": action.case_id,
        "subscriber_id": action.subscriber_id,
        "requested_at": iso_jst(action.requested_at),
        "done_at": iso_jst(action.done_at),
        "attempts": action.attempts,
        "last_error": action.last_error,
        "next_attempt_at": iso_jst(action.next_attempt_at),
    }


def reply_json(reply: CaseReply) -> dict[str, Any]:
    return {
        "reply_id": reply.id,
        "case_id": reply.case_id,
        "document_id": reply.document_id,
        "received_at": iso_jst(reply.received_at),
        "recorded_by": reply.recorded_by,
        "from": reply.from_address,
        "subject": reply.subject,
        "message_id": reply.message_id,
        "matched_by": reply.matched_by,
        "sender_role": reply.sender_role,
        "verified": reply.verified,
        "needs_review": reply.needs_review,
        "text": reply.text,
    }


def timeline_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "at": iso_jst(entry.at),
        "actor": entry.actor,
        "event": entry.event,
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "note": entry.note,
        "effects": entry.detail.get("effects", []),
    }
