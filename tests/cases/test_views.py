"""Who complained, through the read views (issue 17; seed 000 (3)): the CLI masks the
complainant by default and shows them only for a ``--reason``, which goes into the audit trail;
the views mask what a delivery error or a receipt would otherwise carry."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.cases.scenario import REQUESTER_TRACES, Run, takedown_told_the_requester
from tests.conftest import json_lines
from trustdesk.access.roles import Permission
from trustdesk.cases import views
from trustdesk.cases.exceptions import ComplainantSealed, ReasonRequired
from trustdesk.cases.models import Notice
from trustdesk.cases.notices import RenderedNotice
from trustdesk.cases.outbox import keep_notice
from trustdesk.commands.cases import MASKED_RECIPIENT
from trustdesk.commands.common import cli_actor
from trustdesk.intake.models import ComplainantIdentity
from trustdesk.privacy.masking import REDACTED
from trustdesk.privacy.models import AuditEntry
from trustdesk.settings import ProviderSettings
from trustdesk.timeutil import JST

pytestmark = pytest.mark.usefixtures("examplenet")
NOW = "2026-10-29T09:00:00+09:00"
LATER = datetime(2026, 10, 29, 9, 0, tzinfo=JST)


def traces(text: str) -> list[str]:
    return [trace for trace in REQUESTER_TRACES if trace in text]


def audited(factory: sessionmaker[Session]) -> list[tuple[str, str, str, str | None]]:
    with factory() as session:
        query = select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject, AuditEntry.reason)
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_the_cli_masks_the_complainant_unless_given_a_reason(
    cli: Run, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    case_id = takedown_told_the_requester(cli, tmp_path)
    shown = json_lines(cli("cases", "show", str(case_id), "--json").stdout)[0]
    outbox = json_lines(cli("outbox", "list", "--json").stdout)
    to_requester = [n for n in outbox if n["recipient"] == "complainant"]
    assert [n["template"] for n in to_requester] == ["takedown.taken_down"]
    assert to_requester[0] | {"to": None, "body": None, "masked": True} == to_requester[0]
    [reply] = shown["replies"]
    assert reply["masked"] is True and reply["from"] is None and reply["text"] is None
    # the sender's inquiry names the requester (they consented): cut from the masked view
    inquiry = next(n for n in outbox if n["template"] == "takedown.inquiry")
    assert inquiry["masked"] is False and inquiry["to"] == "admin@blog.sample.example.jp"
    assert REDACTED in inquiry["body"]
    text = cli("outbox", "list").stdout
    assert MASKED_RECIPIENT in text
    for output in (json.dumps([shown, outbox], ensure_ascii=False), text):
        assert traces(output) == []
    assert not [entry for entry in audited(factory) if entry[1] == "view-complainant"]


def test_the_cli_shows_the_complainant_for_a_reason_and_audits_it(
    cli: Run, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    case_id = takedown_told_the_requester(cli, tmp_path)
    why = "申立者への連絡のため"
    args = ("--now", NOW, "cases", "show", str(case_id), "--json", "--reason", why)
    shown = json_lines(cli(*args).stdout)[0]
    outbox = json_lines(cli("--now", NOW, "outbox", "list", "--json", "--reason", why).stdout)
    [notice] = [n for n in shown["notices"] if n["recipient"] == "complainant"]
    assert notice["to"] == "kobayashi@claimant.example" and notice["masked"] is False
    assert shown["replies"][0]["from"] == "kobayashi@claimant.example"
    [told] = [n for n in outbox if n["recipient"] == "complainant"]
    assert told["body"].startswith("小林 誠 様")
    # notices.py's guarantee still holds: only the inquiry the requester consented to names
    # them (the post at issue, which names them too, is quoted to its author by design)
    identity = ("小林 誠", "kobayashi@claimant.example", "03-0000-0000", "千代田1-1")
    to_sender = [n for n in outbox if n["recipient"] == "subscriber"]
    assert {n["template"] for n in to_sender} == {"takedown.inquiry", "takedown.taken_down_sender"}
    named = [n["template"] for n in to_sender if any(value in n["body"] for value in identity)]
    assert named == ["takedown.inquiry"]
    reference = f"TD-{case_id:06d}"
    entries = audited(factory)
    assert (cli_actor(), "view-complainant", reference, why) in entries
    assert (cli_actor(), "view-complainant", "outbox", why) in entries


def test_the_cli_wants_a_reason_that_says_something(cli: Run, tmp_path: Path) -> None:
    case_id = takedown_told_the_requester(cli, tmp_path)
    result = cli("cases", "show", str(case_id), "--reason", " x ")
    assert result.exit_code == 2 and "reason" in result.stderr


def test_a_reason_does_not_unmask_for_a_role_without_the_permission(
    cli: Run, tmp_path: Path, session: Session
) -> None:
    takedown_told_the_requester(cli, tmp_path)
    operator = views.Reader.of_role("user:sato", "operator", "because I want to")
    with pytest.raises(ComplainantSealed):
        views.outbox(session, operator, LATER)
    with pytest.raises(ReasonRequired):
        views.Reader("cli:root", frozenset(Permission), "")
    assert session.scalars(select(AuditEntry.action)).all().count("view-complainant") == 0


def test_a_delivery_error_and_a_receipt_keep_the_complainant_from_a_masked_reader(
    cli: Run, tmp_path: Path, session: Session
) -> None:
    case_id = takedown_told_the_requester(cli, tmp_path)
    session.execute(
        update(Notice)
        .where(Notice.case_id == case_id, Notice.recipient == "complainant")
        .values(status="failed", last_error="550 5.1.1 <KOBAYASHI@claimant.example>: no such user")
    )
    who = session.scalars(select(ComplainantIdentity)).one()
    receipt = RenderedNotice("[TDC-000001] 受付", "受付しました\n", "intake.receipt", "ja")
    provider = ProviderSettings(name="Example Net", abuse_mailbox="abuse@example.net")
    kept = keep_notice(
        session, receipt, "TDC-000001", "complainant", who.email, LATER, provider,
        who.complaint_id,
    )  # fmt: skip
    operator = views.Reader.of_role("user:sato", "operator")
    lines = {line["notice_id"]: line for line in views.outbox(session, operator, LATER)}
    assert lines[kept.id] | {"to": None, "body": None, "masked": True} == lines[kept.id]
    failed = next(line for line in lines.values() if line["status"] == "failed")
    assert failed["last_error"] == f"550 5.1.1 <{REDACTED}>: no such user"
    assert traces(json.dumps(list(lines.values()), ensure_ascii=False)) == []
