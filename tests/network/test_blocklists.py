"""The C&C list in the database: feeds add, refresh and expire entries, operators add and
remove by hand, the allowlist, opt-outs — every change logged with who, when and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import CliResult, json_lines
from trustdesk.network import service
from trustdesk.network.models import CcEntry, NetworkChange
from trustdesk.timeutil import JST

NOW = datetime(2026, 10, 20, 9, 0, tzinfo=JST)
LATER = NOW + timedelta(hours=1)


def feed(
    session: Session, text: str, source: str = "feedA", now: datetime = NOW, **kw: object
) -> service.FeedImport:
    return service.import_cc_feed(session, text.splitlines(True), source, "f.txt", now, "ops", **kw)  # type: ignore[arg-type]


def statuses(session: Session) -> dict[tuple[str, str], str]:
    return {(r.source, r.domain): r.status for r in session.scalars(select(CcEntry))}


def test_a_feed_stopping_to_list_a_domain_expires_it_and_relisting_brings_it_back(
    session: Session,
) -> None:
    first = feed(session, "a.example\nb.example\n")
    assert (first.added, first.expired) == (2, 0)
    second = feed(session, "b.example\nc.example\n", now=LATER)
    assert (second.added, second.refreshed, second.expired) == (1, 1, 1)
    assert statuses(session) == {
        ("feedA", "a.example"): "expired",
        ("feedA", "b.example"): "active",
        ("feedA", "c.example"): "active",
    }
    third = feed(session, "a.example\nb.example\nc.example\n", now=LATER)
    assert third.relisted == 1 and statuses(session)[("feedA", "a.example")] == "active"


def test_sources_are_apart_and_an_empty_or_incremental_file_expires_nothing(
    session: Session,
) -> None:
    feed(session, "a.example\n")
    feed(session, "z.example\n", source="feedB")
    assert feed(session, "# nothing today\n", now=LATER).expiry_skipped
    assert feed(session, "b.example\n", now=LATER, incremental=True).expired == 0
    assert set(statuses(session).values()) == {"active"}
    with pytest.raises(ValueError):
        feed(session, "a.example\n", source="manual")


def test_a_removed_entry_stays_removed_when_its_feed_lists_it_again(session: Session) -> None:
    feed(session, "a.example\n")
    assert service.unblock(session, "A.example.", "false positive, ticket 12", LATER, "alice") == 1
    feed(session, "a.example\n", now=LATER)
    assert statuses(session) == {("feedA", "a.example"): "removed"}
    assert service.listed_domains(session) == []
    service.block(session, "a.example", "confirmed C2 after all", LATER, "alice")
    assert service.listed_domains(session) == ["a.example"]
    with pytest.raises(service.NotListed):
        service.unblock(session, "never.example", "x", LATER, "alice")


def test_every_change_is_logged_with_who_when_and_why(session: Session) -> None:
    feed(session, "a.example\n")
    service.allow(session, "ours.example", "our own domain", LATER, "bob")
    service.unblock(session, "a.example", "false positive", LATER, "alice")
    history = service.history(session, "a.example")
    assert [(h["actor"], h["list"], h["action"], h["source"], h["reason"]) for h in history] == [
        ("alice", "cc", "remove", "feedA", "false positive"),
        ("ops", "cc", "add", "feedA", "listed by feedA"),
    ]
    assert history[0]["at"] == LATER.isoformat()
    assert service.history(session, "ours.example")[0]["action"] == "add"


def test_opting_out_and_back_is_logged_and_idempotent(session: Session, examplenet: None) -> None:
    assert service.set_optout(session, "C2005", True, NOW, "member:C2005", "console")
    assert not service.set_optout(session, "C2005", True, NOW, "member:C2005")
    assert service.optout_status(session, "C2005") == {
        "subscriber_id": "C2005",
        "cc_blocking": False,
        "opted_out_since": NOW.isoformat(),
    }
    assert service.set_optout(session, "C2005", False, LATER, "ops", "member asked by phone")
    assert [h["action"] for h in service.history(session, "C2005")] == ["off", "on"]
    with pytest.raises(service.UnknownSubscriber):
        service.set_optout(session, "C9999", True, NOW, "ops")


def test_the_cli_imports_lists_and_reports_rows_it_refused(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(
        "domain,first_seen,last_seen,threat\nc2.example,2026-10-01T00:00:00Z,,bot\nbad..example,,,\n"
    )
    result = cli(
        "--now",
        NOW.isoformat(),
        "network",
        "import",
        "cc",
        str(path),
        "--source",
        "abuse.ch",
        "--json",
    )
    assert result.exit_code == 1
    [line] = json_lines(result.stdout)
    assert (line["added"], line["rejected"]) == (1, 1)
    assert line["errors"] == [f"{path}:3: 'bad..example' has an invalid label ''"]
    listed = json_lines(cli("network", "list", "--json").stdout)
    assert [(e["domain"], e["source"], e["reason"], e["first_seen"]) for e in listed] == [
        ("c2.example", "abuse.ch", "bot", "2026-10-01T09:00:00+09:00")
    ]
    assert cli("network", "allow", "c2.example", "--reason", "partner").exit_code == 0
    assert json_lines(cli("network", "list", "--json").stdout)[0]["allowlisted"] is True
    assert cli("network", "allow", "c2.example", "--remove", "--reason", "done").exit_code == 0
    assert cli("network", "optout", "C0000", "on").exit_code == 1
    status = json_lines(cli("network", "status", "--json").stdout)[0]
    assert status["cc_entries"] == {"active": 1} and status["allowlisted"] == 0


def test_the_change_log_holds_no_csam_entry(session: Session) -> None:
    feed(session, "a.example\n")
    assert {row.subject_kind for row in session.scalars(select(NetworkChange))} == {"cc"}
