"""Handing enforcement actions to the provider's provisioning: a command or a webhook.

An action is recorded in the transaction of the step that decided it (cases.executor) and
handed over after commit, one at a time, each in its own transaction: a command gets the action
as JSON on stdin and exit status 0 means done; a webhook gets it as a JSON POST and a 2xx
answer means done. A failure keeps the action ``pending`` with the error and the time of the
next attempt (exponential backoff); after ``max_attempts`` it is ``failed``, still listed, and
only ``retry`` (``trustdesk actions retry``) hands it over again. Nothing is ever dropped.

A subscriber's actions are handed over in the order they were decided: while an earlier one is
not done, a later one waits, so a "resume" can never overtake the "suspend" it lifts. Delivery
is at least once (a crash after provisioning acted but before "done" was committed repeats the
hand-over), so the payload carries ``action_id`` for the receiver to drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.cases.exceptions import ActionNotFound, CaseOperationRefused
from trustdesk.cases.models import Case, EnforcementAction
from trustdesk.cases.service import record
from trustdesk.db import unit_of_work
from trustdesk.settings import ProvisioningSettings
from trustdesk.timeutil import iso_jst

_ERROR_LIMIT = 2000


class HandoverError(Exception):
    """Provisioning did not confirm the action; the message says what it answered."""


@dataclass
class HandoverReport:
    done: int = 0
    retrying: int = 0
    failed: int = 0
    kept: int = 0
    waiting: int = 0  # behind an earlier action of the same subscriber


def payload(action: EnforcementAction, reference: str) -> dict[str, Any]:
    """What provisioning receives: enough to act and to drop a repeat (``action_id``)."""
    return {
        "action_id": action.id,
        "action": action.action,
        "subscriber_id": action.subscriber_id,
        "case_id": action.case_id,
        "case_reference": reference,
        "reason": action.reason,
        "requested_at": iso_jst(action.requested_at),
        "attempt": action.attempts + 1,
    }


def backoff(attempts: int, settings: ProvisioningSettings) -> timedelta:
    """The wait after the ``attempts``-th failure: backoff_seconds, doubled each time, capped."""
    seconds = settings.backoff_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.max_backoff_seconds))


def hand_over(
    factory: sessionmaker[Session], settings: ProvisioningSettings, now: datetime
) -> HandoverReport:
    """Hand every due action to provisioning (or keep them when none is configured)."""
    report = HandoverReport()
    if not settings.configured:
        with unit_of_work(factory) as session:
            kept = session.execute(
                update(EnforcementAction)
                .where(EnforcementAction.status == "pending")
                .values(status="kept", next_attempt_at=None)
            )
            report.kept = getattr(kept, "rowcount", 0) or 0
        return report
    with unit_of_work(factory) as session:
        due = session.execute(
            select(EnforcementAction.id, EnforcementAction.subscriber_id, EnforcementAction.case_id)
            .where(EnforcementAction.status == "pending", EnforcementAction.next_attempt_at <= now)
            .order_by(EnforcementAction.id)
        ).all()
        first_open = _first_open_action(session)
    for action_id, subscriber_id, case_id in due:
        if first_open.get(subscriber_id or f"case {case_id}", action_id) != action_id:
            report.waiting += 1
            continue
        with unit_of_work(factory) as session:
            action = session.get_one(EnforcementAction, action_id, with_for_update=True)
            if action.status == "pending":
                _attempt(session, action, settings, now, report)
    return report


def _first_open_action(session: Session) -> dict[str, int]:
    """Per subscriber, the earliest action not yet done: only it may be handed over."""
    rows = session.execute(
        select(
            EnforcementAction.subscriber_id,
            EnforcementAction.case_id,
            func.min(EnforcementAction.id),
        )
        .where(EnforcementAction.status.in_(("pending", "failed")))
        .group_by(EnforcementAction.subscriber_id, EnforcementAction.case_id)
    ).all()
    first: dict[str, int] = {}
    for subscriber_id, case_id, action_id in rows:
        key = subscriber_id or f"case {case_id}"
        first[key] = min(first.get(key, action_id), action_id)
    return first


def _attempt(
    session: Session,
    action: EnforcementAction,
    settings: ProvisioningSettings,
    now: datetime,
    report: HandoverReport,
) -> None:
    reference = session.get_one(Case, action.case_id).reference
    body = json.dumps(payload(action, reference), ensure_ascii=False).encode()
    action.attempts += 1
    try:
        if settings.command is not None:
            _run_command(settings.command, body, settings.timeout)
        else:
            assert settings.webhook_url is not None
            _post(settings.webhook_url, body, settings)
    except HandoverError as exc:
        action.last_error = str(exc)[:_ERROR_LIMIT]
        if action.attempts >= settings.max_attempts:
            action.status, action.next_attempt_at = "failed", None
            report.failed += 1
        else:
            action.next_attempt_at = now + backoff(action.attempts, settings)
            report.retrying += 1
        return
    action.status, action.done_at, action.next_attempt_at = "done", now, None
    action.last_error = None
    report.done += 1


def _run_command(argv: list[str], body: bytes, timeout: float) -> None:
    try:
        done = subprocess.run(argv, input=body, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HandoverError(f"{argv[0]} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise HandoverError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise HandoverError(f"{argv[0]} exited with status {done.returncode}: {said}")


def _post(url: str, body: bytes, settings: ProvisioningSettings) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "trustdesk"}
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value().encode()
        headers["X-Trustdesk-Signature"] = (
            "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as answer:  # noqa: S310
            answer.read(_ERROR_LIMIT)
    except urllib.error.HTTPError as exc:
        said = exc.read(500).decode("utf-8", "replace").strip()
        raise HandoverError(f"{url} answered {exc.code} {exc.reason}: {said}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HandoverError(f"cannot reach {url}: {reason}") from exc


def retry(session: Session, action_id: int, actor: str, now: datetime) -> EnforcementAction:
    """Hand a failed (or kept) action over again at the next tick, with a fresh attempt count;
    its last error stays until an attempt succeeds. The case's timeline says who asked."""
    action = session.get(EnforcementAction, action_id)
    if action is None:
        raise ActionNotFound(f"no enforcement action {action_id}")
    if action.status == "done":
        raise CaseOperationRefused(f"action {action_id} is done; nothing to retry")
    before = action.status
    action.status, action.attempts, action.next_attempt_at = "pending", 0, now
    case = session.get_one(Case, action.case_id)
    note = f"{action.action} (action {action_id}, {before}) will be handed to provisioning again"
    record(session, case, "action-retry", actor, now, note, {"action_id": action_id})
    return action
