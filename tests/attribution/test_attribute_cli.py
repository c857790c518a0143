"""``trustdesk import`` and ``trustdesk attribute`` over the Example Net fixtures (SPEC §2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import EXAMPLENET, json_lines
from trustdesk import demo

Run = Callable[..., Any]


def attribute(cli: Run, ip: str, when: str, port: int | None = None) -> dict[str, Any]:
    args = ["attribute", ip, "--at", when, "--json"]
    if port is not None:
        args += ["--port", str(port)]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    [answer] = json_lines(result.stdout)
    return answer


def test_import_reports_counts_and_is_idempotent(cli: Run) -> None:
    first = json_lines(
        cli("import", "subscribers", str(EXAMPLENET / "subscribers.csv"), "--json").stdout
    )
    assert first[0]["added"] == 7 and first[0]["rejected"] == 0
    for kind, name, count in [
        ("assignments", "assignments.csv", 3),
        ("sites", "sites.csv", 1),
        ("radius", "radius.detail", 5),
        ("cgnat", "cgnat.log", 4),
    ]:
        [report] = json_lines(cli("import", kind, str(EXAMPLENET / name), "--json").stdout)
        assert report["rejected"] == 0, report
        assert report["added"] + report["updated"] == count, report
    for kind, name in demo.REGISTRY:
        [again] = json_lines(cli("import", kind, str(EXAMPLENET / name), "--json").stdout)
        assert again["added"] == again["updated"] == 0, again


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize(
    ("ip", "when", "port", "subscriber", "candidates"),
    [
        # static IPv4 assignment
        ("198.51.100.61", "2026-10-20T11:20:04+09:00", None, "C2001", ["C2001"]),
        # static IPv4 assignment before it was valid
        ("198.51.100.61", "2025-12-31T23:59:59+09:00", None, None, []),
        # RADIUS: jiro 09:00-10:00, nobody 10:00-10:05, rin from 10:05 (open session)
        ("198.51.100.201", "2026-10-20T09:30:07+09:00", None, "C2002", ["C2002"]),
        ("198.51.100.201", "2026-10-20T00:35:40+00:00", None, "C2002", ["C2002"]),
        ("198.51.100.201", "2026-10-20T10:02:00+09:00", None, None, []),
        ("198.51.100.201", "2026-10-20T10:00:00+09:00", None, None, []),
        ("198.51.100.201", "2026-10-20T10:30:00+09:00", None, "C2007", ["C2007"]),
        # CGNAT: port picks the block, the block's inside address picks the RADIUS session
        ("203.0.113.140", "2026-10-20T11:00:00+09:00", 20800, "C2006", ["C2006"]),
        ("203.0.113.140", "2026-10-20T11:00:00+09:00", 20224, "C2005", ["C2005"]),
        ("203.0.113.140", "2026-10-20T11:00:00+09:00", None, None, ["C2005", "C2006"]),
        ("203.0.113.140", "2026-10-20T20:00:00+09:00", 20800, "C2006", ["C2006"]),
        ("203.0.113.140", "2026-10-20T20:00:05+09:00", 20800, None, []),
        ("203.0.113.140", "2026-10-20T11:00:00+09:00", 30000, None, []),
        # IPv6 static prefix
        ("2001:db8:100:3b00::1234", "2026-10-20T12:00:00+09:00", None, "C2004", ["C2004"]),
        ("2001:db8:100:3bff:ffff::1", "2026-10-20T12:00:00+09:00", None, "C2004", ["C2004"]),
        ("2001:db8:100:3c00::1", "2026-10-20T12:00:00+09:00", None, None, []),
        # hosted site's server
        ("203.0.113.40", "2026-10-20T12:00:00+09:00", None, "C2003", ["C2003"]),
    ],
)
def test_attribution(
    cli: Run, ip: str, when: str, port: int | None, subscriber: str | None, candidates: list[str]
) -> None:
    answer = attribute(cli, ip, when, port)
    assert answer["in_network"] is True
    assert answer["subscriber_id"] == subscriber, answer
    assert answer["candidates"] == candidates, answer


@pytest.mark.usefixtures("examplenet")
def test_cgnat_evidence_names_block_and_session(cli: Run) -> None:
    answer = attribute(cli, "203.0.113.140", "2026-10-20T11:00:00+09:00", 20800)
    [evidence] = answer["evidence"]
    assert evidence["kind"] == "cgnat"
    assert evidence["inside_ip"] == "100.64.2.11"
    assert evidence["ports"] == [20736, 21247]
    assert evidence["inside_session"]["session_id"] == "B0000003"
    assert evidence["inside_session"]["user_name"] == "mai@example.net"


@pytest.mark.usefixtures("examplenet")
def test_address_outside_our_networks(cli: Run) -> None:
    answer = attribute(cli, "192.0.2.99", "2026-10-20T09:00:00+09:00")
    assert answer["in_network"] is False
    assert answer["subscriber_id"] is None and answer["candidates"] == []


@pytest.mark.parametrize("when", ["2026-10-20T09:30:00", "2026-10-20 09:30", "yesterday"])
def test_time_without_offset_is_rejected(cli: Run, when: str) -> None:
    result = cli("attribute", "198.51.100.201", "--at", when, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "offset" in result.stderr or "ISO 8601" in result.stderr


@pytest.mark.parametrize("args", [["not-an-ip"], ["198.51.100.1", "--port", "70000"]])
def test_bad_address_or_port_is_a_clear_error(cli: Run, args: list[str]) -> None:
    result = cli("attribute", *args, "--at", "2026-10-20T09:30:00+09:00")
    assert result.exit_code == 2
    assert "error" in result.stderr


@pytest.mark.usefixtures("examplenet")
def test_every_lookup_is_in_the_audit_trail(cli: Run) -> None:
    attribute(cli, "198.51.100.201", "2026-10-20T09:30:07+09:00")
    attribute(cli, "203.0.113.140", "2026-10-20T11:00:00+09:00", 20800)
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "2 entries" in result.stdout


def test_unknown_subscriber_is_rejected_with_its_line(cli: Run, tmp_path: Any) -> None:
    cli("import", "subscribers", str(EXAMPLENET / "subscribers.csv"))
    rows = tmp_path / "assignments.csv"
    rows.write_text(
        "subscriber_id,prefix,valid_from,valid_to\n"
        "C2001,198.51.100.62/32,2026-01-01T00:00:00+09:00,\n"
        "\n"
        "C9999,198.51.100.63/32,2026-01-01T00:00:00+09:00,\n"
        "C2001,198.51.100.64/31,2026-01-01T00:00:00,\n",
        encoding="utf-8",
    )
    result = cli("import", "assignments", str(rows))
    assert result.exit_code == 1
    assert f"{rows}:4: unknown subscriber C9999" in result.stderr
    assert f"{rows}:5:" in result.stderr
    assert "1 added" in result.stdout and "2 rejected" in result.stdout


@pytest.mark.usefixtures("examplenet")
def test_an_ipv4_mapped_address_is_the_ipv4_host(cli: Run) -> None:
    """Intake reads ``::ffff:a.b.c.d`` as the IPv4 host; the operator's lookup must agree."""
    plain = attribute(cli, "198.51.100.61", "2026-10-20T11:20:04+09:00")
    mapped = attribute(cli, "::ffff:198.51.100.61", "2026-10-20T11:20:04+09:00")
    assert mapped["ip"] == "198.51.100.61" and mapped["in_network"] is True
    assert mapped["subscriber_id"] == plain["subscriber_id"] == "C2001"


UNKNOWN_THEN_KNOWN = """\
Tue Oct 20 09:00:00 2026
\tAcct-Session-Id = "U0000001"
\tAcct-Status-Type = Start
\tUser-Name = "stranger@elsewhere.example"
\tFramed-IP-Address = 198.51.100.210
\tNAS-IP-Address = 203.0.113.2
\tEvent-Timestamp = "Oct 20 2026 09:00:00 JST"

Tue Oct 20 10:00:00 2026
\tAcct-Session-Id = "U0000001"
\tAcct-Status-Type = Stop
\tUser-Name = "stranger@elsewhere.example"
\tFramed-IP-Address = 198.51.100.210
\tNAS-IP-Address = 203.0.113.2
\tEvent-Timestamp = "Oct 20 2026 10:00:00 JST"

Tue Oct 20 10:00:00 2026
\tAcct-Session-Id = "K0000001"
\tAcct-Status-Type = Start
\tUser-Name = "jiro@example.net"
\tFramed-IP-Address = 198.51.100.210
\tNAS-IP-Address = 203.0.113.2
\tEvent-Timestamp = "Oct 20 2026 10:00:00 JST"
"""


@pytest.mark.usefixtures("examplenet")
def test_an_unknown_session_within_the_clock_margin_names_nobody(cli: Run, tmp_path: Any) -> None:
    """A user matching no subscriber held the address until 10 s before the reported time;
    with a 60 s margin either could have been seen, so nobody is named (SPEC §2)."""
    detail = tmp_path / "radius.detail"
    detail.write_text(UNKNOWN_THEN_KNOWN, encoding="utf-8")
    config = tmp_path / "trustdesk.toml"
    config.write_text(
        (EXAMPLENET / "trustdesk.toml").read_text(encoding="utf-8")
        + "\n[attribution]\nclock_skew_seconds = 60\n",
        encoding="utf-8",
    )
    assert cli("import", "radius", str(detail), config=config).exit_code == 0
    result = cli(
        "attribute", "198.51.100.210", "--at", "2026-10-20T10:00:10+09:00", "--json", config=config
    )
    [answer] = json_lines(result.stdout)
    assert answer["subscriber_id"] is None
    assert answer["candidates"] == ["C2002"]
    assert [holding["subscriber_id"] for holding in answer["evidence"]] == [None, "C2002"]
    later = cli(
        "attribute", "198.51.100.210", "--at", "2026-10-20T10:01:30+09:00", "--json", config=config
    )
    assert json_lines(later.stdout)[0]["subscriber_id"] == "C2002"
