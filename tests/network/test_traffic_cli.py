"""Traffic end to end: logs in, a site over the daily limit restricted and told (seed 002
§25-2), subscribers far above the median flagged with their chart (§25-3)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliResult, json_lines
from trustdesk.cases.models import EnforcementAction, Notice

SITE = "blog.sample.example.jp"  # hosted for C2003 in Example Net
AT_18 = "2026-10-20T18:00:00+09:00"
MB = 2**20


def access_log(
    path: Path, lines: int, size: int, vhost: str = f"{SITE}:443", hour: int = 10
) -> Path:
    with path.open("a") as handle:
        for i in range(lines):
            handle.write(
                f"{vhost} 192.0.2.{i % 200} - - [20/Oct/2026:{hour:02d}:{i % 60:02d}:00 +0900] "
                f'"GET /big.iso HTTP/1.1" 200 {size} "-" "curl/8.0"\n'
            )
    return path


def test_a_site_over_300_mb_is_restricted_until_midnight_with_notices(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None, factory: sessionmaker[Session]
) -> None:
    log = access_log(tmp_path / "access.log", 301, MB)
    [line] = json_lines(
        cli("--now", AT_18, "network", "traffic", "import", str(log), "--json").stdout
    )
    assert line["kind"] == "access-log" and line["days"] == ["2026-10-20"]
    [reference] = line["restricted"]
    case = json_lines(cli("cases", "show", reference, "--json").stdout)[0]
    assert (case["workflow"], case["state"], case["subscriber_id"]) == (
        "traffic",
        "restricted",
        "C2003",
    )
    assert case["deadline_at"] == "2026-10-21T00:00:00+09:00"

    assert (
        json_lines(cli("--now", "2026-10-21T00:00:00+09:00", "tick", "--json").stdout)[0][
            "deadlines"
        ]
        == 1
    )
    assert json_lines(cli("cases", "show", reference, "--json").stdout)[0]["state"] == "closed"
    with factory() as session:
        actions = session.scalars(
            select(EnforcementAction.action).order_by(EnforcementAction.id)
        ).all()
        notices = session.scalars(select(Notice).order_by(Notice.id)).all()
        assert actions == ["restrict", "lift"]
        assert [n.template for n in notices] == ["traffic.restricted", "traffic.lifted"]
        assert notices[0].to_address == "admin@blog.sample.example.jp"
        assert SITE in notices[0].body and "2026年10月20日 24時00分 (JST)まで" in notices[0].body
        assert "315,621,376 bytes in 301 requests" in notices[0].body


def test_a_growing_log_is_read_on_and_the_same_content_never_counted_twice(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None
) -> None:
    log = access_log(tmp_path / "access.log", 100, MB)

    def run() -> dict[str, Any]:
        return json_lines(
            cli("--now", AT_18, "network", "traffic", "import", str(log), "--json").stdout
        )[0]

    assert run()["lines"] == 100 and run()["skipped"].startswith("already imported")
    access_log(log, 250, MB, hour=11)
    second = run()
    assert second["lines"] == 250 and second["restricted"]  # 350 MiB in all: over the limit
    copy = tmp_path / "copy.log"
    copy.write_bytes(log.read_bytes())
    assert json_lines(cli("network", "traffic", "import", str(copy), "--json").stdout)[0]["skipped"]
    report = json_lines(
        cli("--now", AT_18, "network", "traffic", "report", "--day", "2026-10-20", "--json").stdout
    )[0]
    [site] = report["sites"]
    assert (site["bytes"], site["requests"], site["over_limit"]) == (350 * MB, 350, True)
    assert site["case"] == second["restricted"][0] and site["virtual_hosts"] == [SITE]


def test_a_vhost_for_a_plain_log_and_sites_we_do_not_host_or_old_days(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None
) -> None:
    plain = tmp_path / "www.log"
    plain.write_text(
        "".join(
            f'192.0.2.1 - - [20/Oct/2026:10:00:{i:02d} +0900] "GET / HTTP/1.1" 200 {4 * MB} - -\n'
            for i in range(50)
        )
    )
    line = json_lines(
        cli(
            "--now",
            AT_18,
            "network",
            "traffic",
            "import",
            str(plain),
            "--vhost",
            f"www.{SITE}",
            "--json",
        ).stdout
    )[0]
    other = access_log(tmp_path / "other.log", 400, MB, vhost="elsewhere.example")
    late = json_lines(
        cli(
            "--now",
            "2026-10-23T09:00:00+09:00",
            "network",
            "traffic",
            "import",
            str(other),
            "--json",
        ).stdout
    )[0]
    assert line["restricted"] == [] and late["restricted"] == []  # 200 MiB; not ours
    report = json_lines(
        cli("network", "traffic", "report", "--day", "2026-10-20", "--json").stdout
    )[0]
    sites = {s["site"]: s for s in report["sites"]}
    assert sites[SITE]["virtual_hosts"] == [f"www.{SITE}"] and sites[SITE]["bytes"] == 200 * MB
    assert (
        sites["elsewhere.example"]["over_limit"]
        and sites["elsewhere.example"]["subscriber_id"] is None
    )


def _detail(
    session_id: str, user: str, status: str, at: str, octets: int, session_time: int
) -> str:
    """A record with a quarter of ``octets`` in and the rest out, each past 2**32 in Gigawords."""
    inbound, outbound = octets // 4, octets - octets // 4
    return (
        f'Tue Oct 20 00:00:00 2026\n\tAcct-Session-Id = "{session_id}"\n'
        f'\tAcct-Status-Type = {status}\n\tUser-Name = "{user}"\n'
        f"\tNAS-IP-Address = 203.0.113.2\n\tAcct-Session-Time = {session_time}\n"
        f"\tAcct-Input-Octets = {inbound % 2**32}\n\tAcct-Input-Gigawords = {inbound // 2**32}\n"
        f"\tAcct-Output-Octets = {outbound % 2**32}\n"
        f"\tAcct-Output-Gigawords = {outbound // 2**32}\n"
        f'\tEvent-Timestamp = "{at}"\n\n'
    )


def test_subscribers_far_above_the_median_are_flagged_with_a_chart(
    cli: Callable[..., CliResult], tmp_path: Path, examplenet: None
) -> None:
    gib = 2**30
    records = []
    for day in (18, 19, 20):
        for number, user in enumerate(("jiro@example.net", "sho@example.net", "mai@example.net")):
            records.append(
                _detail(
                    f"{user}-{day}",
                    user,
                    "Stop",
                    f"Oct {day} 2026 12:00:00 JST",
                    (number + 1) * gib,
                    3600,
                )
            )
        heavy = f"Oct {day} 2026 12:00:00 JST"
        records.append(
            _detail(f"rin-{day}", "rin@example.net", "Interim-Update", heavy, 30 * gib, 3600)
        )
        records.append(
            _detail(
                f"rin-{day}",
                "rin@example.net",
                "Stop",
                f"Oct {day} 2026 13:00:00 JST",
                60 * gib,
                7200,
            )
        )
    detail = tmp_path / "radius.detail"
    detail.write_text("".join(records))
    line = json_lines(cli("network", "traffic", "import", str(detail), "--json").stdout)[0]
    assert (line["kind"], line["sessions"], line["rejected"]) == ("radius", 12, 0)
    charts = tmp_path / "charts"
    result = cli(
        "--now",
        AT_18,
        "network",
        "traffic",
        "report",
        "--day",
        "2026-10-20",
        "--json",
        "--svg",
        str(charts),
    )
    report = json_lines(result.stdout)[0]
    assert report["subscribers"]["active"] == 4 and report["subscribers"]["median_bytes"] == int(
        2.5 * gib
    )
    [flag] = report["flagged_for_bandwidth_control"]
    assert flag["subscriber"] == "C2007" and flag["days_above"] == 3
    assert [point["bytes"] for point in flag["chart"][-3:]] == [60 * gib] * 3
    assert (charts / "2026-10-20-C2007.svg").read_text().startswith("<svg")
