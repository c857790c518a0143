"""Handing enforcement actions to the provider's provisioning: a command or a webhook.

An action is recorded in the transaction of the step that decided it (cases.executor) and
handed over after commit, one at a time, each in its own transaction: a command gets the action
as JSON on stdin and exit status 0 means done; a webhook gets it as a JSON POST and a 2xx
answer means done. A failure keeps the action ``pending`` with the error and the time of the
next attempt (exponential backoff); after ``max_attempts`` it is ``failed``, still listed, and
only ``retry`` (``trustdesk actions retry``) hands it over again. Nothing is ever dropped.

A subscriber's actions are handed over in the order they were decided: while an earlier one is
not done, a later one waits, so a "resume" can never overtake the "suspend" it lifts. Each
hand-over is claimed first (``cases.claims``), so two workers never hand over one action at the
same time; a crash after provisioning acted but before "done" was committed repeats the
hand-over once the claim ends, with the same ``idempotency_key`` (in the JSON, in the command's
environment ``TRUSTDESK_IDEMPOTENCY_KEY``, as the webhook's ``Idempotency-Key`` header), so the
receiver carries each action out once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from trustdesk.cases.claims import claim_next
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


def idempotency_key(action_id: int) -> str:
    """The same for every hand-over of one action: the receiver carries out a key once."""
    return f"trustdesk-action-{action_id}"


def payload(action: EnforcementAction, reference: str) -> dict[str, Any]:
    """What provisioning receives: enough to act and to drop a repeat (``idempotency_key``)."""
    return {
        "idempotency_key": idempotency_key(action.id),
        "action_id": action.id,
        "action": action.action,
        "subscriber_id": action.subscriber_id,
        "case_id": action.case_id,
        "case_reference": reference,
        "reason": action.reason,
        "requested_at": iso_jst(action.requested_at),
        "attempt": action.attempts,  # counted when the hand-over was claimed
    }


def backoff(attempts: int, settings: ProvisioningSettings) -> timedelta:
    """The wait after the ``attempts``-th failure: backoff_seconds, doubled each time, capped."""
    seconds = settings.backoff_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.max_backoff_seconds))


def hand_over(
    factory: sessionmaker[Session], settings: ProvisioningSettings, now: datetime
) -> HandoverReport:
    """Hand every due action to provisioning (or keep them when none is configured), each
    claimed in a transaction committed before the hand-over (``cases.claims``)."""
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
    lease = timedelta(seconds=settings.claim_seconds)
    after = 0
    while True:
        with unit_of_work(factory) as session:
            claimed = claim_next(session, EnforcementAction, _due(now), after, now, lease)
            if claimed is None:
                break
            action = session.get_one(EnforcementAction, claimed)
            body = json.dumps(
                payload(action, session.get_one(Case, action.case_id).reference),
                ensure_ascii=False,
            ).encode()
        after = claimed
        _attempt(factory, action, body, settings, now, report)
    with unit_of_work(factory) as session:
        waiting = select(func.count()).select_from(EnforcementAction)
        report.waiting = session.scalar(waiting.where(*_due(now)(EnforcementAction, False))) or 0
    return report


def _due(now: datetime) -> Callable[..., list[ColumnElement[bool]]]:
    """An action is due once its time came, unless an earlier action of the same subscriber
    (of the same case when it has none) is not done yet: a "resume" never overtakes the
    "suspend" it lifts. ``ready=False`` gives the due actions that wait behind such a one."""

    def conditions(action: Any, ready: bool = True) -> list[ColumnElement[bool]]:
        earlier = aliased(EnforcementAction)
        same_holder = or_(
            and_(action.subscriber_id.is_not(None), earlier.subscriber_id == action.subscriber_id),
            and_(
                action.subscriber_id.is_(None),
                earlier.subscriber_id.is_(None),
                earlier.case_id == action.case_id,
            ),
        )
        behind = exists().where(
            earlier.id < action.id, earlier.status.in_(("pending", "failed")), same_holder
        )
        return [
            action.status == "pending",
            action.next_attempt_at <= now,
            ~behind if ready else behind,
        ]

    return conditions


def _attempt(
    factory: sessionmaker[Session],
    action: EnforcementAction,
    body: bytes,
    settings: ProvisioningSettings,
    now: datetime,
    report: HandoverReport,
) -> None:
    """Hand one claimed action over, then record what became of it."""
    try:
        if settings.command is not None:
            _run_command(settings.command, body, settings.timeout, idempotency_key(action.id))
        else:
            assert settings.webhook_url is not None
            _post(settings.webhook_url, body, settings, idempotency_key(action.id))
    except HandoverError as exc:
        with unit_of_work(factory) as session:
            if mark_not_done(session, action.id, str(exc), action.attempts, settings, now):
                report.failed += 1
            else:
                report.retrying += 1
        return
    with unit_of_work(factory) as session:
        mark_done(session, action.id, now)
    report.done += 1


def mark_done(session: Session, action_id: int, now: datetime) -> None:
    """Provisioning confirmed the action: done, its claim released."""
    session.execute(
        update(EnforcementAction)
        .where(EnforcementAction.id == action_id, EnforcementAction.status == "pending")
        .values(status="done", done_at=now, next_attempt_at=None, last_error=None)
        .values(claimed_until=None)
    )


def mark_not_done(
    session: Session,
    action_id: int,
    error: str,
    attempts: int,
    settings: ProvisioningSettings,
    now: datetime,
) -> bool:
    """Provisioning did not confirm: tried again after the backoff, or failed for good after
    ``max_attempts`` (returns True then); the claim is released and the error kept."""
    give_up = attempts >= settings.max_attempts
    session.execute(
        update(EnforcementAction)
        .where(EnforcementAction.id == action_id, EnforcementAction.status == "pending")
        .values(
            status="failed" if give_up else "pending",
            next_attempt_at=None if give_up else now + backoff(attempts, settings),
            last_error=error[:_ERROR_LIMIT],
            claimed_until=None,
        )
    )
    return give_up


def _run_command(argv: list[str], body: bytes, timeout: float, key: str) -> None:
    """The command gets the key in its environment too (``TRUSTDESK_IDEMPOTENCY_KEY``)."""
    environment = {**os.environ, "TRUSTDESK_IDEMPOTENCY_KEY": key}
    try:
        done = subprocess.run(
            argv, input=body, capture_output=True, timeout=timeout, check=False, env=environment
        )
    except subprocess.TimeoutExpired as exc:
        raise HandoverError(f"{argv[0]} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise HandoverError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise HandoverError(f"{argv[0]} exited with status {done.returncode}: {said}")


def _post(url: str, body: bytes, settings: ProvisioningSettings, key: str) -> None:
    """The key travels as the ``Idempotency-Key`` header too (IETF httpapi draft)."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "trustdesk",
        "Idempotency-Key": key,
    }
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
    action.claimed_until = None
    case = session.get_one(Case, action.case_id)
    note = f"{action.action} (action {action_id}, {before}) will be handed to provisioning again"
    record(session, case, "action-retry", actor, now, note, {"action_id": action_id})
    return action
