"""Registry CSV parsers: fixtures, every rejection reason, and "never raises" on arbitrary input."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import EXAMPLENET
from trustdesk.attribution.records import AssignmentRow, RowError, SiteRow, SubscriberRow
from trustdesk.attribution.registry_csv import parse_assignments, parse_sites, parse_subscribers

Parser = Callable[[Iterable[str] | str, str], Iterator[Any]]

SUBSCRIBERS_HEADER = (
    "subscriber_id,name,name_kana,email,phone,postal_address,birth_date,plan,monthly_fee_yen,"
    "started_on,status,radius_user\n"
)
ASSIGNMENTS_HEADER = "subscriber_id,prefix,valid_from,valid_to\n"
SITES_HEADER = "subscriber_id,domain,server_ip,valid_from,valid_to\n"


def parse(parser: Parser, text: str, source: str = "test.csv") -> list[Any]:
    return list(parser(text, source))


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def subscriber(**values: str) -> str:
    """A subscribers.csv with one row: the defaults below, overridden by ``values``."""
    row = {
        "subscriber_id": "C1",
        "name": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "email": "taro@example.net",
        "phone": "090-0000-0000",
        "postal_address": "東京都千代田区1-1",
        "birth_date": "1980-04-01",
        "plan": "ftth",
        "monthly_fee_yen": "1870",
        "started_on": "2026-01-01",
        "status": "active",
        "radius_user": "taro@example.net",
    } | values
    return SUBSCRIBERS_HEADER + ",".join(row.values()) + "\n"


# --- fixtures -----------------------------------------------------------------------------------


def test_subscribers_fixture_reads_every_row_with_japanese_names() -> None:
    with (EXAMPLENET / "subscribers.csv").open(encoding="utf-8", newline="") as handle:
        items = list(parse_subscribers(handle, "subscribers.csv"))
    rows = [row for row in items if isinstance(row, SubscriberRow)]
    assert rows == items
    assert [row.subscriber_id for row in rows] == [f"C200{n}" for n in range(1, 8)]
    first = rows[0]
    assert first.name == "加藤 次郎"
    assert first.name_kana == "カトウ ジロウ"
    assert first.postal_address == "東京都渋谷区桜丘町1-1"
    assert first.monthly_fee_yen == 3300
    assert first.birth_date == date(1980, 4, 1)
    assert first.radius_user is None
    assert rows[2].birth_date is None
    assert rows[1].radius_user == "jiro@example.net"


def test_assignments_fixture_converts_times_to_utc() -> None:
    rows = parse(parse_assignments, (EXAMPLENET / "assignments.csv").read_text(encoding="utf-8"))
    assert [str(row.prefix) for row in rows] == [
        "198.51.100.61/32",
        "198.51.100.45/32",
        "2001:db8:100:3b00::/56",
    ]
    assert rows[0].valid_from == datetime(2025, 12, 31, 15, 0, tzinfo=UTC)
    assert rows[0].valid_from.utcoffset() is not None
    assert all(row.valid_to is None for row in rows)
    assert [row.line for row in rows] == [2, 3, 4]


def test_sites_fixture() -> None:
    rows = parse(parse_sites, (EXAMPLENET / "sites.csv").read_text(encoding="utf-8"))
    assert rows == [
        SiteRow(
            subscriber_id="C2003",
            domain="blog.sample.example.jp",
            server_ip="203.0.113.40",
            valid_from=datetime(2024, 2, 29, 15, 0, tzinfo=UTC),
            valid_to=None,
            line=2,
        )
    ]


# --- the file as a whole ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parser", "text", "missing"),
    [
        (parse_subscribers, "subscriber_id,name_kana\nC1,ヤマダ\n", "name"),
        (parse_assignments, "subscriber_id,prefix\nC1,192.0.2.1/32\n", "valid_from"),
        (
            parse_sites,
            "subscriber_id,domain,valid_from\nC1,a.jp,2026-01-01T00:00:00Z\n",
            "server_ip",
        ),
        (parse_assignments, "C1,192.0.2.1/32,2026-01-01T00:00:00+09:00,\n", "subscriber_id"),
        (parse_subscribers, "", "subscriber_id"),
        (parse_subscribers, "\nsubscriber_id,name\nC1,山田\n", "subscriber_id"),
    ],
)
def test_missing_required_column_is_one_error_at_line_1(
    parser: Parser, text: str, missing: str
) -> None:
    error = only(parse(parser, text, "registry.csv"))
    assert isinstance(error, RowError)
    assert (error.source, error.line) == ("registry.csv", 1)
    assert missing in error.reason
    assert str(error).startswith("registry.csv:1: header lacks required column(s)")


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffsubscriber_id,name\nC1,山田\n",  # UTF-8 BOM as written by Excel
        "subscriber_id,name\r\nC1,山田\r\n",  # CRLF
        " Subscriber_ID , NAME ,\nC1,山田,\n",  # header case and spacing, unnamed extra column
        "name,subscriber_id,shoe_size\n山田,C1,27\n",  # any order, unknown column ignored
        "subscriber_id,name",  # header only, then no newline
    ],
)
def test_header_variants_are_accepted(text: str) -> None:
    rows = parse(parse_subscribers, text)
    assert all(isinstance(row, SubscriberRow) for row in rows)
    if rows:
        assert rows == [SubscriberRow(subscriber_id="C1", name="山田")]


def test_lines_and_text_give_the_same_result() -> None:
    text = subscriber()
    assert parse(parse_subscribers, text) == list(
        parse_subscribers(text.splitlines(keepends=True), "test.csv")
    )


def test_line_numbers_count_physical_lines() -> None:
    text = (
        "subscriber_id,name,postal_address\n"  # 1
        '"C1",山田,"東京都\n千代田区"\n'  # 2-3: a quoted address over two lines
        "\n"  # 4: blank
        ",,\n"  # 5: spreadsheet filler row
        "C2,,x\n"  # 6: empty name
        "C3,佐藤,y\n"  # 7
    )
    items = parse(parse_subscribers, text)
    assert items[0] == SubscriberRow(
        subscriber_id="C1", name="山田", postal_address="東京都\n千代田区"
    )
    assert items[1] == RowError("test.csv", 6, "name is empty")
    assert items[2].subscriber_id == "C3"


def test_bad_rows_never_stop_the_good_ones() -> None:
    text = ASSIGNMENTS_HEADER + (
        "C1,192.0.2.1/32,2026-01-01T00:00:00+09:00,\n"
        "C2,not-an-ip,2026-01-01T00:00:00+09:00,\n"
        "C3,192.0.2.3/32,2026-01-01T00:00:00,\n"
        "C4,192.0.2.4/32,2026-01-01T00:00:00+09:00,\n"
    )
    items = parse(parse_assignments, text)
    assert [type(item) for item in items] == [AssignmentRow, RowError, RowError, AssignmentRow]
    assert [item.line for item in items if isinstance(item, RowError)] == [3, 4]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("C1,3,300,ftth\n", "row has 4 fields but the header has 3"),
        ("C1\n", "row has 1 fields but the header has 3"),
        ('C1,"1870,ftth\nC2,770,mobile\n', "look for an unclosed quote"),
    ],
)
def test_rows_of_the_wrong_width_are_refused(row: str, reason: str) -> None:
    error = only(parse(parse_subscribers, "subscriber_id,monthly_fee_yen,name\n" + row))
    assert isinstance(error, RowError)
    assert error.line == 2
    assert reason in error.reason


# --- subscribers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"monthly_fee_yen": '"3,300"'}, "monthly_fee_yen", 3300),
        ({"monthly_fee_yen": '"1,234,567"'}, "monthly_fee_yen", 1234567),
        ({"monthly_fee_yen": "0"}, "monthly_fee_yen", 0),
        ({"monthly_fee_yen": ""}, "monthly_fee_yen", None),
        ({"status": ""}, "status", "active"),
        ({"status": "Suspended"}, "status", "suspended"),
        ({"status": "terminated"}, "status", "terminated"),
        ({"email": ""}, "email", None),
        ({"name_kana": "  "}, "name_kana", None),
        ({"birth_date": ""}, "birth_date", None),
        ({"started_on": "2024-02-29"}, "started_on", date(2024, 2, 29)),
        (
            {"postal_address": '"大阪府大阪市北区梅田1-1-3, 5F"'},
            "postal_address",
            "大阪府大阪市北区梅田1-1-3, 5F",
        ),
    ],
)
def test_subscriber_values(values: dict[str, str], field: str, expected: object) -> None:
    row = only(parse(parse_subscribers, subscriber(**values)))
    assert isinstance(row, SubscriberRow)
    assert getattr(row, field) == expected


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"subscriber_id": ""}, "subscriber_id is empty"),
        ({"name": ""}, "name is empty"),
        ({"monthly_fee_yen": "-100"}, "monthly_fee_yen '-100' is not a non-negative whole number"),
        ({"monthly_fee_yen": "3300.5"}, "not a non-negative whole number of yen"),
        ({"monthly_fee_yen": '"33,00"'}, "not a non-negative whole number of yen"),
        ({"monthly_fee_yen": "3300円"}, "not a non-negative whole number of yen"),
        ({"monthly_fee_yen": "３３００"}, "not a non-negative whole number of yen"),
        ({"status": "closed"}, "status 'closed' is not one of active, suspended, terminated"),
        (
            {"birth_date": "1980/04/01"},
            "birth_date '1980/04/01' is not a date written as YYYY-MM-DD",
        ),
        ({"birth_date": "1981-02-29"}, "birth_date '1981-02-29' is not a date"),
        ({"started_on": "20260101"}, "started_on '20260101' is not a date"),
        ({"email": "taro.example.net"}, "email 'taro.example.net' is not an e-mail address"),
        ({"email": "taro@@example.net"}, "is not an e-mail address"),
    ],
)
def test_subscriber_rejections(values: dict[str, str], reason: str) -> None:
    error = only(parse(parse_subscribers, subscriber(**values)))
    assert isinstance(error, RowError)
    assert error.line == 2
    assert reason in error.reason


def test_duplicate_subscriber_id_is_refused_after_the_first() -> None:
    text = "subscriber_id,name\nC1,山田\nC2,佐藤\nC1,鈴木\n"
    items = parse(parse_subscribers, text)
    assert [item.name for item in items[:2]] == ["山田", "佐藤"]
    assert items[2] == RowError("test.csv", 4, "subscriber_id C1 is already defined on line 2")


# --- assignments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "valid_from", "valid_to", "expected"),
    [
        ("198.51.100.0/24", "2026-01-01T00:00:00+09:00", "", "198.51.100.0/24"),
        ("198.51.100.7", "2026-01-01T00:00:00+09:00", "", "198.51.100.7/32"),
        ("2001:DB8:100:3B00::/56", "2026-01-01T00:00:00Z", "", "2001:db8:100:3b00::/56"),
        ("192.0.2.1/32", "2026-01-01T00:00:00+09:00", "2026-01-01T00:00:01+09:00", "192.0.2.1/32"),
    ],
)
def test_assignment_values(prefix: str, valid_from: str, valid_to: str, expected: str) -> None:
    row = only(
        parse(parse_assignments, f"{ASSIGNMENTS_HEADER}C1,{prefix},{valid_from},{valid_to}\n")
    )
    assert isinstance(row, AssignmentRow)
    assert row.prefix == ipaddress.ip_network(expected)
    assert row.valid_from.tzinfo is UTC


def test_open_ended_assignment_has_no_end() -> None:
    row = only(
        parse(
            parse_assignments,
            "subscriber_id,prefix,valid_from\nC1,192.0.2.1,2026-01-01T00:00:00Z\n",
        )
    )
    assert row.valid_to is None


@pytest.mark.parametrize(
    ("prefix", "valid_from", "valid_to", "reason"),
    [
        (
            "198.51.100.61/24",
            "2026-01-01T00:00:00+09:00",
            "",
            "prefix 198.51.100.61/24 has host bits set; write the network (198.51.100.0/24) "
            "or the single address (198.51.100.61/32)",
        ),
        (
            "198.51.100.256/32",
            "2026-01-01T00:00:00+09:00",
            "",
            "prefix '198.51.100.256/32' is not an IP address or prefix",
        ),
        ("", "2026-01-01T00:00:00+09:00", "", "prefix is empty"),
        (
            "192.0.2.1/32",
            "2026-01-01T00:00:00",
            "",
            "valid_from: time '2026-01-01T00:00:00' has no UTC offset",
        ),
        ("192.0.2.1/32", "2026-01-01", "", "has no UTC offset"),
        ("192.0.2.1/32", "yesterday", "", "valid_from: not an ISO 8601 time"),
        ("192.0.2.1/32", "", "", "valid_from is empty"),
        (
            "192.0.2.1/32",
            "0001-01-01T00:00:00+09:00",
            "",
            "valid_from: time 0001-01-01T00:00:00+09:00 is outside the years 0002 to 9999",
        ),
        (
            "192.0.2.1/32",
            "2026-01-01T00:00:00+09:00",
            "2026-02-01T00:00:00",
            "valid_to: time '2026-02-01T00:00:00' has no UTC offset",
        ),
        (
            "192.0.2.1/32",
            "2026-01-01T00:00:00+09:00",
            "2026-01-01T00:00:00+09:00",
            "valid_to 2026-01-01T00:00:00+09:00 is not after valid_from",
        ),
        (
            "192.0.2.1/32",
            "2026-01-01T09:00:00+09:00",
            "2026-01-01T00:00:00Z",
            "is not after valid_from",
        ),
        (
            "192.0.2.1/32",
            "2026-01-02T00:00:00+09:00",
            "2026-01-01T00:00:00+09:00",
            "is not after valid_from",
        ),
    ],
)
def test_assignment_rejections(prefix: str, valid_from: str, valid_to: str, reason: str) -> None:
    error = only(
        parse(parse_assignments, f"{ASSIGNMENTS_HEADER}C1,{prefix},{valid_from},{valid_to}\n")
    )
    assert isinstance(error, RowError)
    assert reason in error.reason


# --- sites --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "server_ip", "expected_domain", "expected_ip"),
    [
        ("blog.sample.example.jp", "203.0.113.40", "blog.sample.example.jp", "203.0.113.40"),
        ("Blog.Example.JP.", "203.0.113.40", "blog.example.jp", "203.0.113.40"),
        ("日本語ドメイン.jp", "2001:DB8::0:1", "xn--eckwd4c7c5976acvb2w6i.jp", "2001:db8::1"),
        ("例え。テスト", "192.0.2.1", "xn--r8jz45g.xn--zckzah", "192.0.2.1"),
        ("ＥＸＡＭＰＬＥ.com", "192.0.2.1", "example.com", "192.0.2.1"),
        ("xn--eckwd4c7c5976acvb2w6i.jp", "192.0.2.1", "xn--eckwd4c7c5976acvb2w6i.jp", "192.0.2.1"),
    ],
)
def test_site_values(domain: str, server_ip: str, expected_domain: str, expected_ip: str) -> None:
    text = f"{SITES_HEADER}C1,{domain},{server_ip},2026-01-01T00:00:00+09:00,\n"
    row = only(parse(parse_sites, text))
    assert isinstance(row, SiteRow)
    assert (row.domain, row.server_ip) == (expected_domain, expected_ip)


@pytest.mark.parametrize(
    ("domain", "server_ip", "reason"),
    [
        ("exa mple.com", "192.0.2.1", "domain 'exa mple.com' is not a host name"),
        ("https://example.com/", "192.0.2.1", "is not a host name"),
        ("a..example.com", "192.0.2.1", "is not a host name"),
        ("-bad.example.com", "192.0.2.1", "is not a host name"),
        ("x" * 64 + ".example.com", "192.0.2.1", "is not a host name"),
        (".", "192.0.2.1", "is not a host name"),
        ("", "192.0.2.1", "domain is empty"),
        ("example.com", "192.0.2", "server_ip '192.0.2' is not an IP address"),
        ("example.com", "192.0.2.1/32", "server_ip '192.0.2.1/32' is not an IP address"),
        ("example.com", "", "server_ip is empty"),
    ],
)
def test_site_rejections(domain: str, server_ip: str, reason: str) -> None:
    text = f"{SITES_HEADER}C1,{domain},{server_ip},2026-01-01T00:00:00+09:00,\n"
    error = only(parse(parse_sites, text))
    assert isinstance(error, RowError)
    assert reason in error.reason


# --- robustness ---------------------------------------------------------------------------------

CSV_PIECES = ["", "C1", "山田", '"', ",", "192.0.2.1/32", "x\ny", "2026-01-01T00:00:00Z", "\r"]
EDGES = ["\x00", "\ufeff", "0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-09:00", "3,300"]
csv_text = st.lists(
    st.lists(st.sampled_from([*CSV_PIECES, *EDGES]), max_size=6).map("".join),
    max_size=6,
).map("\n".join)


@pytest.mark.parametrize(
    ("parser", "header"),
    [
        (parse_subscribers, SUBSCRIBERS_HEADER),
        (parse_assignments, ASSIGNMENTS_HEADER),
        (parse_sites, SITES_HEADER),
    ],
)
@given(body=csv_text | st.text(max_size=200))
def test_parsers_never_raise(parser: Parser, header: str, body: str) -> None:
    for text in (body, header + body):
        for item in parser(text, "fuzz.csv"):
            assert isinstance(item, RowError | SubscriberRow | AssignmentRow | SiteRow)
            if isinstance(item, RowError):
                assert item.line >= 1 and item.reason
