"""Access logs → bytes per virtual host per JST day (seed 002 §25-2: 00:00 to 24:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from trustdesk.network.accesslog import read_access_log

COMBINED = '203.0.113.9 - - [{t}] "GET /f.iso HTTP/1.1" 200 {b} "-" "Mozilla/5.0 (X11)"\n'
VHOST = 'Blog.Example.jp:443 203.0.113.9 - alice [{t}] "GET / HTTP/2.0" 200 {b} "https://r/" "x"\n'


def test_vhost_combined_lines_name_their_host_and_the_port_is_dropped() -> None:
    lines = [VHOST.format(t="20/Oct/2026:10:00:00 +0900", b=1000)] * 3
    transfer = read_access_log(lines, "access.log")
    [(key, day)] = transfer.days.items()
    assert key == ("blog.example.jp", date(2026, 10, 20))
    assert (day.bytes_sent, day.requests) == (3000, 3)


def test_a_plain_combined_log_takes_the_files_vhost_and_a_line_vhost_wins() -> None:
    lines = [
        COMBINED.format(t="20/Oct/2026:10:00:00 +0900", b=10),
        VHOST.format(t="20/Oct/2026:10:00:01 +0900", b=20),
    ]
    transfer = read_access_log(lines, "a.log", vhost="www.example.jp")
    assert {k[0]: d.bytes_sent for k, d in transfer.days.items()} == {
        "www.example.jp": 10,
        "blog.example.jp": 20,
    }
    assert read_access_log(lines[:1], "a.log").errors[0].reason.endswith("give --vhost")


def test_the_day_is_the_jst_day_whatever_zone_the_log_uses() -> None:
    lines = [
        COMBINED.format(t="20/Oct/2026:14:59:59 +0000", b=1),  # 23:59:59 JST on the 20th
        COMBINED.format(t="20/Oct/2026:15:00:00 +0000", b=2),  # 00:00 JST on the 21st
        COMBINED.format(t="20/Oct/2026:23:59:59 +0900", b=4),
        COMBINED.format(t="20/Oct/2026:10:00:00 -0500", b=8),  # 00:00 JST on the 21st
    ]
    days = read_access_log(lines, "a.log", vhost="s.example").days
    assert {day: item.bytes_sent for (_, day), item in days.items()} == {
        date(2026, 10, 20): 5,
        date(2026, 10, 21): 10,
    }
    assert days[("s.example", date(2026, 10, 21))].first_at == datetime(
        2026, 10, 20, 15, tzinfo=UTC
    )


def test_a_dash_for_bytes_is_zero_and_bad_lines_are_numbered() -> None:
    lines = [
        COMBINED.format(t="20/Oct/2026:10:00:00 +0900", b="-"),
        "garbage\n",
        "\n",
        COMBINED.format(t="20/Foo/2026:10:00:00 +0900", b=5),
        COMBINED.format(t="20/Oct/2026:10:00:00 +0900", b=7),
    ]
    transfer = read_access_log(lines, "a.log", vhost="s.example", first_line=101)
    assert [(e.line, e.reason[:12]) for e in transfer.errors] == [
        (102, "not a combin"),
        (104, "unreadable t"),
    ]
    assert transfer.lines == 4 and transfer.rejected == 2
    [(_, day)] = transfer.days.items()
    assert (day.bytes_sent, day.requests) == (7, 2)


def test_quotes_inside_the_request_do_not_confuse_the_fields() -> None:
    line = '1.2.3.4 - - [20/Oct/2026:10:00:00 +0900] "GET /\\"x\\" HTTP/1.1" 200 99 "-" "-"\n'
    [(_, day)] = read_access_log([line], "a.log", vhost="s.example").days.items()
    assert day.bytes_sent == 99
