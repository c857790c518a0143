"""``trustdesk network export``: files rewritten atomically only when their content changed,
serials persisted and increasing, the reload command run after a change (issue 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CONFIG, CliResult, json_lines
from trustdesk.privacy.models import AuditEntry

NOW = "2026-10-21T12:00:00+09:00"


def config(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "trustdesk.toml"
    path.write_text(CONFIG.read_text() + f"\n[network]\nreload_command = {command}\n")
    return path


def export(cli: Callable[..., CliResult], out: Path, conf: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = cli(
        "--now", NOW, "network", "export", "--out", str(out), "--json", *extra, config=conf
    )
    [line] = json_lines(result.stdout)
    line["exit_code"] = result.exit_code
    return line  # type: ignore[no-any-return]


def test_an_unchanged_list_is_not_rewritten_and_a_change_gets_a_greater_serial(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    marker = tmp_path / "reloaded"
    conf = config(tmp_path, f'["touch", "{marker}"]')
    out = tmp_path / "zones"
    assert cli("network", "block", "evil.example", "--reason", "CERT", config=conf).exit_code == 0
    first = export(cli, out, conf)
    assert first["changed"] and first["reloaded"] and marker.exists()
    assert {f["file"] for f in first["files"]} == {
        "cc.rpz",
        "csam.rpz",
        "optout-unbound.conf",
        "optout-bind.acl",
    }
    inode = (out / "cc.rpz").stat().st_ino
    assert oct((out / "cc.rpz").stat().st_mode & 0o777) == "0o644"
    marker.unlink()

    again = export(cli, out, conf)
    assert not again["changed"] and not again["reloaded"] and not marker.exists()
    assert (out / "cc.rpz").stat().st_ino == inode

    assert cli("network", "block", "evil2.example", "--reason", "CERT", config=conf).exit_code == 0
    third = export(cli, out, conf)
    cc = {f["file"]: f for f in third["files"]}["cc.rpz"]
    first_cc = {f["file"]: f for f in first["files"]}["cc.rpz"]
    assert (
        cc["changed"]
        and cc["serial"] > first_cc["serial"]
        and cc["added_sample"] == ["evil2.example"]
    )
    assert f" {cc['serial']} " in (out / "cc.rpz").read_text().splitlines()[2]
    assert sorted(p.name for p in out.iterdir()) == [
        "cc.rpz",
        "csam.rpz",
        "optout-bind.acl",
        "optout-unbound.conf",
    ]  # no temporary file left behind


def test_a_lost_file_is_written_again_with_its_serial(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    conf = config(tmp_path, "[]")
    first = export(cli, tmp_path / "zones", conf)
    (tmp_path / "zones" / "cc.rpz").unlink()
    second = export(cli, tmp_path / "zones", conf)
    assert [f["file"] for f in second["files"] if f["changed"]] == ["cc.rpz"]
    assert second["files"][0]["serial"] == first["files"][0]["serial"]


def test_a_failing_reload_command_is_reported_and_exits_1(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    conf = config(tmp_path, '["sh", "-c", "echo cannot reach the resolver >&2; exit 3"]')
    line = export(cli, tmp_path / "zones", conf)
    assert line["exit_code"] == 1 and "exited 3: cannot reach the resolver" in line["reload_error"]
    assert export(cli, tmp_path / "zones2", conf, "--no-reload")["exit_code"] == 0


def test_reading_sessions_for_the_opt_outs_is_audited(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None, factory: sessionmaker[Session]
) -> None:
    conf = config(tmp_path, "[]")
    assert cli("network", "optout", "C2001", "on", config=conf).exit_code == 0
    line = export(cli, tmp_path / "zones", conf)
    unbound = {f["file"]: f for f in line["files"]}["optout-unbound.conf"]
    assert unbound["added_sample"] == ["198.51.100.61/32"]  # C2001's static address
    with factory() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "export-dns-optouts" in actions


def test_a_new_walled_garden_setting_rewrites_the_zone(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    assert cli("network", "block", "evil.example", "--reason", "CERT").exit_code == 0
    plain = config(tmp_path, "[]")
    export(cli, tmp_path / "zones", plain)
    garden = tmp_path / "garden.toml"
    garden.write_text(plain.read_text() + 'cc_walled_garden = "blocked.example.net"\n')
    line = export(cli, tmp_path / "zones", garden)
    assert [f["file"] for f in line["files"] if f["changed"]] == ["cc.rpz"]
    assert "evil.example CNAME blocked.example.net." in (tmp_path / "zones" / "cc.rpz").read_text()


def test_opted_out_members_beyond_one_query_are_all_exported(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    examplenet: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The members and their addresses are looked up in chunks an IN list of every database
    takes (here of one): a static IPv4 address, a static IPv6 prefix and a RADIUS session's
    address all reach the resolver files, as they do in one query."""
    conf = config(tmp_path, "[]")
    for member in ("C2001", "C2004", "C2007"):
        assert cli("network", "optout", member, "on", config=conf).exit_code == 0
    whole = export(cli, tmp_path / "whole", conf)
    monkeypatch.setattr("trustdesk.db.PARAMETERS_PER_IN", 1)
    chunked = export(cli, tmp_path / "chunked", conf)
    assert whole["exit_code"] == chunked["exit_code"] == 0
    for name in ("optout-unbound.conf", "optout-bind.acl"):
        text = (tmp_path / "chunked" / name).read_text()
        assert text == (tmp_path / "whole" / name).read_text()
        for network in ("198.51.100.61", "2001:db8:100:3b00::", "198.51.100.201"):
            assert network in text, (name, network)


def test_a_cgnat_member_s_opt_out_reaches_the_inside_address(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None
) -> None:
    """C2005 (sho@example.net) is behind the CGNAT and asks the resolver from 100.64.2.10; with
    the client networks left to the registry, the inside pool is among the clients (so every
    CGNAT member is blocked) and the opt-out names the inside address (seed 002 §25-2-3)."""
    conf = config(tmp_path, "[]")
    switched = cli("--now", NOW, "network", "optout", "C2005", "on", config=conf)
    assert switched.exit_code == 0 and switched.stderr == ""
    line = export(cli, tmp_path / "zones", conf)
    assert line["exit_code"] == 0 and line["warnings"] == []
    snippet = (tmp_path / "zones" / "optout-unbound.conf").read_text()
    assert '    access-control-tag: 100.64.0.0/10 "trustdesk_cc"' in snippet
    assert '    access-control-tag: 100.64.2.10/32 "trustdesk_cc_optout"' in snippet
    assert "    100.64.2.10/32;" in (tmp_path / "zones" / "optout-bind.acl").read_text()


def test_an_opt_out_that_reaches_no_address_is_said(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None
) -> None:
    """The day before C2005's first session the member holds no address: the switch is kept,
    and both the switch and every export say that the resolvers cannot see it yet."""
    conf = config(tmp_path, "[]")
    before = "2026-10-19T12:00:00+09:00"
    switched = cli("--now", before, "network", "optout", "C2005", "on", config=conf)
    assert switched.exit_code == 0
    assert "C2005" in switched.stderr and "no address" in switched.stderr
    out = str(tmp_path / "zones")
    line = json_lines(
        cli("--now", before, "network", "export", "--out", out, "--json", config=conf).stdout
    )[0]
    assert len(line["warnings"]) == 1 and line["warnings"][0].startswith("C2005:")
    plain = cli("--now", before, "network", "export", "--out", out, config=conf)
    assert plain.exit_code == 0 and "C2005: C&C blocking is off" in plain.stderr
    assert export(cli, tmp_path / "zones", conf)["warnings"] == []  # online the next day
