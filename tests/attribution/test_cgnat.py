"""Junos CGNAT port-block syslog (SPEC §2: shared addresses are attributed by IP + port + time)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import EXAMPLENET
from trustdesk.attribution.cgnat import parse_junos
from trustdesk.attribution.records import PortBlockEvent, RowError

PREFIX = "{cgnat-pool}[FWNAT]: JSERVICES_NAT_PORT_BLOCK"
ALLOC = (
    f"2026-10-20T08:00:00+09:00 cgn1 {PREFIX}_ALLOC: 100.64.2.10 -> 203.0.113.140:20224-20735 "
    "0x5f2a0001"
)
T0 = datetime(2026, 10, 19, 23, 0, tzinfo=UTC)  # 2026-10-20 08:00 JST


def parse(text: str) -> list[PortBlockEvent | RowError]:
    return list(parse_junos(text, "cgnat.log"))


def event_of(line: str) -> PortBlockEvent:
    (item,) = parse(line)
    assert isinstance(item, PortBlockEvent), item
    return item


def error_of(line: str) -> RowError:
    (item,) = parse(line)
    assert isinstance(item, RowError), item
    return item


def test_fixture() -> None:
    with (EXAMPLENET / "cgnat.log").open(encoding="utf-8", newline="") as handle:
        events = list(parse_junos(handle, "cgnat.log"))
    assert events[0] == PortBlockEvent(
        line=1,
        event="alloc",
        nat_host="cgn1",
        inside_ip="100.64.2.10",
        public_ip="203.0.113.140",
        port_low=20224,
        port_high=20735,
        handle="0x5f2a0001",
        at=T0,
    )
    assert [(e.line, e.event, e.inside_ip) for e in events if isinstance(e, PortBlockEvent)] == [
        (1, "alloc", "100.64.2.10"),
        (2, "alloc", "100.64.2.11"),
        (3, "release", "100.64.2.10"),
        (4, "release", "100.64.2.11"),
    ]


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        (ALLOC, "event", "alloc"),
        (ALLOC.replace("_ALLOC", "_RELEASE"), "event", "release"),
        (ALLOC.replace("_ALLOC", "_ACTIVE"), "event", "active"),
        (ALLOC.removesuffix(" 0x5f2a0001"), "handle", None),
        (ALLOC.replace("0x5f2a0001", "0x5F2A0001"), "handle", "0x5F2A0001"),
        (ALLOC + "  \r\n", "handle", "0x5f2a0001"),
        (ALLOC.replace("100.64.2.10", "2001:DB8::A"), "inside_ip", "2001:db8::a"),
        (ALLOC.replace("20224-20735", "0-65535"), "port_high", 65535),
        (ALLOC.replace("20224-20735", "1024-1024"), "port_low", 1024),
        (ALLOC.replace("+09:00", "Z").replace("08:00", "23:00").replace("20T", "19T"), "at", T0),
        (
            ALLOC.replace("08:00:00+09:00", "08:00:00.123+09:00"),
            "at",
            T0.replace(microsecond=123000),
        ),
        (ALLOC.replace("cgn1 ", "cgn1 (FPC Slot 1, PIC Slot 0) "), "nat_host", "cgn1"),
        (ALLOC.replace("cgn1", "192.0.2.9"), "nat_host", "192.0.2.9"),
    ],
)
def test_event_fields(line: str, field: str, expected: object) -> None:
    assert getattr(event_of(line), field) == expected


def test_rfc5424_line() -> None:
    line = (
        "<134>1 2026-10-20T08:00:00.123+09:00 cgn1 - - - - "
        f"{PREFIX}_ALLOC: 100.64.2.10 -> 203.0.113.140:20224-20735 0x5f2a0001"
    )
    event = event_of(line)
    assert (event.nat_host, event.at) == ("cgn1", T0.replace(microsecond=123000))
    assert event.at.tzinfo is UTC


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            f"Oct 20 08:00:00 cgn1 {PREFIX}_ALLOC: 100.64.2.10 -> 203.0.113.140:20224-20735",
            "the log has BSD syslog timestamps (no time zone, often no year); it must be written "
            "with RFC 3339 timestamps",
        ),
        (f"<134>Oct  5 08:00:00 cgn1 {PREFIX}_ALLOC: 10.0.0.1 -> 192.0.2.1:1-2", "BSD syslog"),
        (
            f"Oct 20 08:00:00.401 2026 cgn1 {PREFIX}_ALLOC: 10.0.0.1 -> 192.0.2.1:1-2",
            "BSD syslog",
        ),
        (
            ALLOC.replace("+09:00", ""),
            "time '2026-10-20T08:00:00' has no UTC offset; write it as e.g. "
            "2026-10-20T09:30:00+09:00; the log must be written with RFC 3339 timestamps",
        ),
        (ALLOC.replace("2026-10-20T08:00:00+09:00", "yesterday"), "not an ISO 8601 time"),
        (f"{PREFIX}_ALLOC: 10.0.0.1 -> 192.0.2.1:1-2", "not an ISO 8601 time: '{cgnat-pool}"),
        ("JSERVICES_NAT_PORT_BLOCK_ALLOC", "does not start with a time and a host"),
        (ALLOC.replace("2026-10-20T08:00:00+09:00", "0001-01-01T00:00:00+09:00"), "0002 to 9999"),
        (ALLOC.replace("cgn1 ", ""), "no host name"),
        (ALLOC.replace("cgn1 ", "- "), "no host name"),
        (ALLOC.replace("20224-20735", "20735-20224"), "port range 20735-20224 is not within"),
        (ALLOC.replace("20224-20735", "65535-65536"), "0 <= low <= high <= 65535"),
        (ALLOC.replace("100.64.2.10", "100.64.2.300"), "inside address '100.64.2.300'"),
        (ALLOC.replace("203.0.113.140", "203.0.113"), "public address '203.0.113' is not an IP"),
        (ALLOC.replace("_ALLOC", "_INTERIM"), "unknown port-block message"),
        (ALLOC + " trailing", "port-block message not in the form"),
        (ALLOC.replace("20224-20735", "20224"), "port-block message not in the form"),
        (ALLOC.replace(" -> ", " "), "port-block message not in the form"),
    ],
)
def test_rejections(line: str, reason: str) -> None:
    error = error_of(line)
    assert error.line == 1
    assert reason in error.reason


def test_other_syslog_traffic_is_skipped_and_line_numbers_stay_physical() -> None:
    text = "\r\n".join(
        [
            "2026-10-20T07:59:00+09:00 cgn1 sshd[123]: Accepted publickey for noc",  # 1
            "",  # 2
            "2026-10-20T07:59:30+09:00 cgn1 {cgnat-pool}[FWNAT]: JSERVICES_SESSION_OPEN: x",  # 3
            "Oct 20 07:59:45 cgn1 kernel: not a port block, so its old timestamp is harmless",  # 4
            ALLOC,  # 5
            ALLOC.replace("100.64.2.10", "bogus"),  # 6
            ALLOC.replace("_ALLOC", "_RELEASE"),  # 7
        ]
    )
    items = parse("\ufeff" + text)
    assert [(type(item).__name__, item.line) for item in items] == [
        ("PortBlockEvent", 5),
        ("RowError", 6),
        ("PortBlockEvent", 7),
    ]
    assert str(items[1]).startswith("cgnat.log:6: inside address 'bogus'")


def test_lines_and_text_give_the_same_result() -> None:
    text = (EXAMPLENET / "cgnat.log").read_text(encoding="utf-8")
    assert parse(text) == list(parse_junos(text.splitlines(), "cgnat.log"))


def test_final_line_without_newline() -> None:
    assert len(parse(ALLOC + "\n" + ALLOC)) == 2


@given(
    text=st.lists(
        st.sampled_from(
            [
                ALLOC,
                "JSERVICES_NAT_PORT_BLOCK_",
                "Oct 20 08:00:00 ",
                "<134>1 ",
                "0001-01-01T00:00:00+09:00 ",
                "9999-12-31T23:59:59-09:00 ",
                " -> ",
                ":99999999999999999999-1",
                "-",
                "\r",
            ]
        )
        | st.text(max_size=30),
        max_size=12,
    ).map("".join)
)
def test_parser_never_raises(text: str) -> None:
    for item in parse_junos(text, "fuzz.log"):
        assert isinstance(item, PortBlockEvent | RowError)
