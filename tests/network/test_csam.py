"""The CSAM list (seed 002 §28): counts for everyone, entries for the csam_officer role only,
audited, and never in an import, export or change-log output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import CliResult, json_lines
from trustdesk.network import csam
from trustdesk.privacy.models import AuditEntry
from trustdesk.timeutil import JST

NOW = datetime(2026, 10, 20, 9, 0, tzinfo=JST)
LIST = "http://img.example/a/1.jpg\nhttp://img.example/b/2.jpg\nwhole.example\n"
OFFICER = csam.Viewer("carol", frozenset({csam.CSAM_ROLE}))


def load(session: Session, text: str, now: datetime = NOW) -> csam.CsamImport:
    return csam.import_list(session, text.splitlines(True), "list.txt", now, "ops")


def test_a_new_list_replaces_the_old_and_counts_the_over_blocking(session: Session) -> None:
    assert load(session, LIST).added == 3
    assert csam.summary(session) == {
        "active_entries": 3,
        "expired_entries": 0,
        "blocked_hosts": 2,
        "path_entries_blocking_whole_host": 2,  # seed 002 §28-2: accepted, but reported
        "hosts_blocked_for_a_path": 1,
    }
    later = load(session, "whole.example\nnew.example\n", NOW + timedelta(days=1))
    assert (later.added, later.expired) == (1, 2)
    assert sorted(csam.blocked_hosts(session)) == ["new.example", "whole.example"]
    assert load(session, "# empty download\n").expired == 0


def test_only_the_csam_officer_reads_the_entries_and_each_reading_is_audited(
    session: Session,
) -> None:
    load(session, LIST)
    with pytest.raises(csam.CsamAccessDenied):
        csam.entries(session, csam.Viewer("dave", frozenset({"operator"})), "curious", NOW)
    assert session.scalars(select(AuditEntry)).all() == []
    rows = csam.entries(session, OFFICER, "list-keeper query 42", NOW)
    assert [row["entry"] for row in rows] == [
        "img.example/a/1.jpg",
        "img.example/b/2.jpg",
        "whole.example",
    ]
    [audit] = session.scalars(select(AuditEntry)).all()
    assert (audit.actor, audit.action, audit.reason) == (
        "carol",
        "view-csam-list",
        "list-keeper query 42",
    )
    assert "img.example" not in str(audit.detail)


def test_the_cli_never_prints_an_entry_except_in_the_audited_command(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "csam.txt"
    path.write_text(LIST + "ftp://img.example/c/3.jpg\n")
    shown = [
        cli("network", "import", "csam", str(path)),
        cli("network", "import", "csam", str(path), "--json"),
    ]
    shown += [
        cli("network", "csam", "status"),
        cli("network", "status", "--json"),
        cli("network", "export", "--out", str(tmp_path / "zones")),
        cli("network", "export", "--out", str(tmp_path / "zones2"), "--json"),
    ]
    for result in shown:
        assert "img.example" not in result.output and "whole.example" not in result.output
    assert "3.jpg" not in shown[0].output and ":4: not a URL or host name" in shown[0].output
    assert cli("network", "csam", "list").exit_code != 0
    assert cli("network", "csam", "list", "--csam-officer").exit_code != 0
    result = cli(
        "network", "csam", "list", "--csam-officer", "--reason", "audit of the list", "--json"
    )
    assert [line["entry"] for line in json_lines(result.stdout)][-1] == "whole.example"
    assert "img.example" in (tmp_path / "zones" / "csam.rpz").read_text()
