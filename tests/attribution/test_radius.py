"""RADIUS detail parsing and the session merge (SPEC §2: dynamic sessions, RADIUS accounting)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import EXAMPLENET
from trustdesk.attribution.radius import SessionSummary, merge_session, parse_detail
from trustdesk.attribution.records import RadiusRecord, RadiusStatus, RowError

HEADER = "Tue Oct 20 07:50:00 2026"
T0 = datetime(2026, 10, 19, 22, 50, tzinfo=UTC)  # 2026-10-20 07:50 JST
EPOCH_T0 = "1792450200"


def detail(*records: dict[str, str], header: str = HEADER, end: str = "\n") -> str:
    """A detail file: each record is its header, tab-indented attributes, then a blank line."""
    blocks = [
        "\n".join([header, *(f"\t{name} = {value}" for name, value in record.items())])
        for record in records
    ]
    return "\n\n".join(blocks) + "\n" + end


def attributes(**overrides: str) -> dict[str, str]:
    """A typical Start record's attributes; an override of ``""`` removes the attribute."""
    base = {
        "Acct-Session-Id": '"B0000001"',
        "Acct-Status-Type": "Start",
        "User-Name": '"jiro@example.net"',
        "Framed-IP-Address": "198.51.100.201",
        "NAS-IP-Address": "203.0.113.2",
        "Event-Timestamp": '"Oct 20 2026 07:50:00 JST"',
        "Timestamp": EPOCH_T0,
    }
    merged = base | {name.replace("_", "-"): value for name, value in overrides.items()}
    return {name: value for name, value in merged.items() if value != ""}


def parse_one(text: str) -> RadiusRecord | RowError:
    items = list(parse_detail(text, "radius.detail"))
    assert len(items) == 1, items
    return items[0]


def record_of(text: str) -> RadiusRecord:
    item = parse_one(text)
    assert isinstance(item, RadiusRecord), item
    return item


def error_of(text: str) -> RowError:
    item = parse_one(text)
    assert isinstance(item, RowError), item
    return item


# --- fixture ------------------------------------------------------------------------------------


def test_fixture_records_and_lines() -> None:
    with (EXAMPLENET / "radius.detail").open(encoding="utf-8", newline="") as handle:
        items = list(parse_detail(handle, "radius.detail"))
    records = [record for record in items if isinstance(record, RadiusRecord)]
    assert records == items
    assert [(r.line, r.status, r.session_id) for r in records] == [
        (1, "Start", "B0000002"),
        (10, "Start", "B0000003"),
        (19, "Start", "B0000001"),
        (28, "Stop", "B0000001"),
        (37, "Start", "B0000004"),
    ]
    assert records[0] == RadiusRecord(
        line=1,
        status="Start",
        session_key="203.0.113.2/B0000002",
        session_id="B0000002",
        user_name="sho@example.net",
        nas="203.0.113.2",
        framed_ip="100.64.2.10",
        framed_prefix=None,
        event_at=T0,
    )


def test_fixture_event_timestamps_agree_with_receive_times() -> None:
    text = (EXAMPLENET / "radius.detail").read_text(encoding="utf-8")
    without = "\n".join(line for line in text.splitlines() if "Event-Timestamp" not in line)
    times = [r.event_at for r in parse_detail(text, "a") if isinstance(r, RadiusRecord)]
    fallback = [r.event_at for r in parse_detail(without, "a") if isinstance(r, RadiusRecord)]
    assert times == fallback and len(times) == 5


def test_fixture_sessions_merge_to_their_intervals() -> None:
    records = list(parse_detail((EXAMPLENET / "radius.detail").read_text(), "radius.detail"))
    sessions: dict[str, SessionSummary] = {}
    for record in records:
        assert isinstance(record, RadiusRecord)
        sessions[record.session_key] = merge_session(sessions.get(record.session_key), record)
    jiro = sessions["203.0.113.2/B0000001"]
    assert (jiro.started_at, jiro.stopped_at, jiro.start_inferred) == (
        datetime(2026, 10, 20, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 20, 1, 0, tzinfo=UTC),
        False,
    )
    assert sessions["203.0.113.2/B0000004"].stopped_at is None  # rin still online


# --- event time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, T0),
        ({"Event-Timestamp": EPOCH_T0, "Timestamp": ""}, T0),
        ({"Event-Timestamp": '"Oct 19 2026 22:50:00 UTC"'}, T0),
        ({"Event-Timestamp": '"Oct 19 2026 22:50:00 GMT"'}, T0),
        ({"Event-Timestamp": "Oct 19 2026 22:50:00 Z"}, T0),
        ({"Event-Timestamp": '"Oct 20 2026 07:50:00 KST"'}, T0),
        ({"Event-Timestamp": '"Oct 20 2026 07:50:00 +0900"'}, T0),
        ({"Event-Timestamp": '"Oct 19 2026 21:20:00 -01:30"'}, T0),
        (
            {"Event-Timestamp": '"Oct  5 2026 07:50:00 JST"'},
            datetime(2026, 10, 4, 22, 50, tzinfo=UTC),
        ),
        # unknown zone or unreadable form: fall back to Timestamp (minus Acct-Delay-Time)
        (
            {
                "Event-Timestamp": '"Oct 20 2026 07:50:00 PDT"',
                "Timestamp": "1792450230",
                "Acct-Delay-Time": "30",
            },
            T0,
        ),
        ({"Event-Timestamp": '"Feb 30 2026 07:50:00 JST"'}, T0),
        ({"Event-Timestamp": '"2026-10-20 07:50:00"'}, T0),
        ({"Event-Timestamp": "", "Timestamp": "1792450205", "Acct-Delay-Time": "5"}, T0),
        ({"Event-Timestamp": "", "Acct-Delay-Time": "0"}, T0),
    ],
)
def test_event_time(overrides: dict[str, str], expected: datetime) -> None:
    record = record_of(detail(attributes(**overrides)))
    assert record.event_at == expected
    assert record.event_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {"Event-Timestamp": "", "Timestamp": ""},
            "no usable time: no Event-Timestamp, and no Timestamp "
            "(the header line has no zone and is never used)",
        ),
        (
            {"Event-Timestamp": '"Oct 20 2026 07:50:00 PDT"', "Timestamp": ""},
            "Event-Timestamp 'Oct 20 2026 07:50:00 PDT' is neither epoch seconds nor",
        ),
        ({"Event-Timestamp": "", "Timestamp": "soon"}, "Timestamp 'soon' is not epoch seconds"),
        ({"Event-Timestamp": "", "Timestamp": "9" * 30}, "is not epoch seconds"),
        (
            {"Event-Timestamp": "", "Acct-Delay-Time": "-3"},
            "Acct-Delay-Time '-3' is not a non-negative whole number",
        ),
        ({"Event-Timestamp": "", "Acct-Delay-Time": "9" * 30}, "Acct-Delay-Time"),
    ],
)
def test_no_usable_time_is_an_error(overrides: dict[str, str], reason: str) -> None:
    error = error_of(detail(attributes(**overrides)))
    assert error.line == 1
    assert reason in error.reason


# --- record contents ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({}, "session_key", "203.0.113.2/B0000001"),
        ({"Acct-Unique-Session-Id": '"9f8e7d6c5b4a"'}, "session_key", "9f8e7d6c5b4a"),
        (
            {"NAS-IP-Address": "", "NAS-Identifier": '"bras-tokyo-1"'},
            "session_key",
            "bras-tokyo-1/B0000001",
        ),
        ({"NAS-IP-Address": "", "NAS-Identifier": "bras-tokyo-1"}, "nas", "bras-tokyo-1"),
        (
            {"NAS-IP-Address": "", "NAS-IPv6-Address": "2001:DB8::2"},
            "session_key",
            "2001:db8::2/B0000001",
        ),
        ({"User-Name": '""'}, "user_name", None),
        ({"User-Name": '"山田@example.net"'}, "user_name", "山田@example.net"),
        ({"Framed-IP-Address": ""}, "framed_ip", None),
        (
            {"Framed-IP-Address": "", "Framed-IPv6-Address": "2001:DB8:0::5"},
            "framed_ip",
            "2001:db8::5",
        ),
        (
            {"Delegated-IPv6-Prefix": "2001:DB8:1234:5600::/56"},
            "framed_prefix",
            "2001:db8:1234:5600::/56",
        ),
        ({"Framed-IPv6-Prefix": "2001:db8:99::/64"}, "framed_prefix", "2001:db8:99::/64"),
        (
            {"Delegated-IPv6-Prefix": "2001:db8:1::/56", "Framed-IPv6-Prefix": "2001:db8:2::/64"},
            "framed_prefix",
            "2001:db8:1::/56",
        ),
        ({"Acct-Status-Type": "Stop", "Acct-Session-Time": "3600"}, "session_time", 3600),
        ({"Acct-Status-Type": "Interim-Update"}, "status", "Interim-Update"),
        ({"Acct-Status-Type": "Alive"}, "status", "Interim-Update"),
        ({"Acct-Input-Octets": "1000"}, "input_octets", 1000),
        (
            {"Acct-Input-Octets": "1000", "Acct-Input-Gigawords": "2"},
            "input_octets",
            2 * 2**32 + 1000,
        ),
        ({"Acct-Output-Gigawords": "1"}, "output_octets", 2**32),
        ({"Acct-Output-Octets": "0", "Acct-Output-Gigawords": "0"}, "output_octets", 0),
        ({}, "input_octets", None),
    ],
)
def test_record_fields(overrides: dict[str, str], field: str, expected: object) -> None:
    assert getattr(record_of(detail(attributes(**overrides))), field) == expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"Acct-Session-Id": ""}, "no Acct-Session-Id"),
        ({"Acct-Session-Id": "", "Acct-Unique-Session-Id": "abc"}, "no Acct-Session-Id"),
        ({"NAS-IP-Address": ""}, "Acct-Session-Id 'B0000001' alone could belong to any NAS"),
        ({"Acct-Status-Type": ""}, "no Acct-Status-Type"),
        (
            {"Acct-Status-Type": "Tunnel-Start"},
            "Acct-Status-Type 'Tunnel-Start' is not Start, Stop",
        ),
        (
            {"Framed-IP-Address": "198.51.100.300"},
            "Framed-IP-Address '198.51.100.300' is not an IPv4 address",
        ),
        (
            {"Framed-IP-Address": "2001:db8::1"},
            "Framed-IP-Address '2001:db8::1' is not an IPv4 address",
        ),
        (
            {"Framed-IPv6-Address": "198.51.100.1"},
            "Framed-IPv6-Address '198.51.100.1' is not an IPv6 address",
        ),
        ({"NAS-IP-Address": "bras1"}, "NAS-IP-Address 'bras1' is not an IPv4 address"),
        (
            {"Delegated-IPv6-Prefix": "2001:db8:1234:5601::/56"},
            "is not an IPv6 prefix without host bits",
        ),
        ({"Delegated-IPv6-Prefix": "198.51.100.0/24"}, "is not an IPv6 prefix"),
        (
            {"Acct-Input-Octets": "12k"},
            "Acct-Input-Octets '12k' is not a non-negative whole number",
        ),
        ({"Acct-Output-Gigawords": "-1"}, "Acct-Output-Gigawords '-1'"),
        ({"Acct-Session-Time": "1.5"}, "Acct-Session-Time '1.5'"),
        (
            {"Acct-Session-Time": "9" * 20},
            "Acct-Session-Time 99999999999999999999 reaches before the year 0002",
        ),
    ],
)
def test_record_rejections(overrides: dict[str, str], reason: str) -> None:
    error = error_of(detail(attributes(**overrides)))
    assert error.source == "radius.detail"
    assert reason in error.reason


@pytest.mark.parametrize("status", ["Accounting-On", "Accounting-Off", "accounting-on"])
def test_nas_reboot_markers_are_skipped_silently(status: str) -> None:
    reboot = {"Acct-Status-Type": status, "NAS-IP-Address": "203.0.113.2", "Timestamp": EPOCH_T0}
    items = list(parse_detail(detail(reboot, attributes()), "radius.detail"))
    assert [item.line for item in items] == [6]


# --- file layout --------------------------------------------------------------------------------


def test_line_numbers_are_where_each_record_starts() -> None:
    text = "\n\n" + detail(
        attributes(), attributes(Acct_Session_Id="B2"), attributes(Acct_Session_Id="")
    )
    items = list(parse_detail(text, "radius.detail"))
    assert [item.line for item in items] == [3, 12, 21]
    assert isinstance(items[2], RowError)
    assert str(items[2]).startswith("radius.detail:21: no Acct-Session-Id")


def test_lines_and_text_give_the_same_result() -> None:
    text = detail(attributes(), attributes(Acct_Status_Type="Stop"))
    assert list(parse_detail(text, "x")) == list(parse_detail(text.splitlines(keepends=True), "x"))
    assert list(parse_detail(text, "x")) == list(parse_detail(text.splitlines(), "x"))


def test_crlf_bom_and_spaces_instead_of_tabs() -> None:
    text = "\ufeff" + detail(attributes()).replace("\t", "    ").replace("\n", "\r\n")
    assert record_of(text) == record_of(detail(attributes()))


@pytest.mark.parametrize("ending", ["", "\n"])
def test_final_record_without_trailing_blank_line(ending: str) -> None:
    text = detail(attributes(), attributes(Acct_Session_Id="B2"), end="").rstrip("\n") + ending
    items = list(parse_detail(text, "radius.detail"))
    assert [item.session_id for item in items if isinstance(item, RadiusRecord)] == [
        "B0000001",
        "B2",
    ]


def test_truncated_final_record_is_an_error_and_earlier_records_survive() -> None:
    text = detail(attributes()) + HEADER + '\n\tAcct-Session-Id = "B2"\n\tAcct-Status-Type = Stop'
    first, truncated = list(parse_detail(text, "radius.detail"))
    assert isinstance(first, RadiusRecord)
    assert isinstance(truncated, RowError)
    assert truncated.line == 10
    assert "no usable time" in truncated.reason


def test_header_alone_at_the_end_of_a_file() -> None:
    error = error_of(HEADER + "\n")
    assert error == RowError(
        "radius.detail", 1, "record has a header but no attributes (is the file truncated?)"
    )


def test_a_header_starts_a_record_even_without_the_blank_line() -> None:
    text = detail(attributes()).rstrip("\n") + "\n" + detail(attributes(Acct_Session_Id="B2"))
    items = list(parse_detail(text, "radius.detail"))
    assert [(item.line, item.session_id) for item in items if isinstance(item, RadiusRecord)] == [
        (1, "B0000001"),
        (9, "B2"),
    ]


def test_a_garbled_line_rejects_its_record_only() -> None:
    garbled = detail(attributes()).replace("\tUser-Name", "\t@@@@\n\tUser-Name", 1)
    text = garbled + detail(attributes(Acct_Session_Id="B2"))
    error, record = list(parse_detail(text, "radius.detail"))
    assert isinstance(error, RowError)
    assert error.line == 1
    assert "line 4 is not an 'Attribute = value' line" in error.reason
    assert isinstance(record, RadiusRecord) and record.line == 11


def test_record_without_header_is_read() -> None:
    text = "".join(f"\t{name} = {value}\n" for name, value in attributes().items())
    assert record_of(text).session_id == "B0000001"


def test_first_of_repeated_attributes_wins_and_names_ignore_case() -> None:
    text = detail(attributes()).replace("\tUser-Name", '\tuser-name = "first"\n\tUser-Name', 1)
    assert record_of(text).user_name == "first"


# --- merging ------------------------------------------------------------------------------------

KEY = "203.0.113.2/B1"


def rec(
    status: RadiusStatus,
    minutes: int,
    session_time: int | None = None,
    octets: int | None = None,
    **identity: str | None,
) -> RadiusRecord:
    fields: dict[str, str | None] = {
        "user_name": "jiro@example.net",
        "nas": "203.0.113.2",
        "framed_ip": "198.51.100.201",
        "framed_prefix": None,
    } | identity
    return RadiusRecord(
        line=1,
        status=status,
        session_key=KEY,
        session_id="B1",
        user_name=fields["user_name"],
        nas=fields["nas"],
        framed_ip=fields["framed_ip"],
        framed_prefix=fields["framed_prefix"],
        event_at=T0 + timedelta(minutes=minutes),
        session_time=session_time,
        input_octets=octets,
        output_octets=None if octets is None else octets * 2,
    )


def merge_all(records: list[RadiusRecord]) -> SessionSummary:
    summary: SessionSummary | None = None
    for record in records:
        summary = merge_session(summary, record)
    assert summary is not None
    return summary


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("records", "started_at", "inferred", "stopped_at", "last_seen", "octets"),
    [
        ([rec("Start", 0)], at(0), False, None, at(0), None),
        ([rec("Start", 0), rec("Stop", 60, 3600, 500)], at(0), False, at(60), at(60), 500),
        ([rec("Stop", 60, 3600, 500), rec("Start", 0)], at(0), False, at(60), at(60), 500),
        # missing Stop: the session is still open
        ([rec("Start", 0), rec("Interim-Update", 30, 1800, 100)], at(0), False, None, at(30), 100),
        # missing Start: inferred from Acct-Session-Time, then replaced by the real Start
        ([rec("Stop", 60, 3540, 500)], at(1), True, at(60), at(60), 500),
        ([rec("Stop", 60, 3540, 500), rec("Start", 2)], at(2), False, at(60), at(60), 500),
        (
            [rec("Interim-Update", 30, 1700), rec("Interim-Update", 50, 3000)],
            at(0),
            True,
            None,
            at(50),
            None,
        ),
        ([rec("Interim-Update", 30)], None, False, None, at(30), None),
        # octets of the latest event, whatever order they come in
        (
            [rec("Interim-Update", 50, octets=900), rec("Interim-Update", 30, octets=100)],
            None,
            False,
            None,
            at(50),
            900,
        ),
        # a retransmitted Stop cannot extend the session
        ([rec("Stop", 61), rec("Stop", 60)], None, False, at(60), at(61), None),
    ],
)
def test_merge_rules(
    records: list[RadiusRecord],
    started_at: datetime | None,
    inferred: bool,
    stopped_at: datetime | None,
    last_seen: datetime,
    octets: int | None,
) -> None:
    summary = merge_all(records)
    assert (summary.started_at, summary.start_inferred) == (started_at, inferred)
    assert summary.stopped_at == stopped_at
    assert summary.last_seen_at == last_seen
    assert summary.input_octets == octets
    assert summary.output_octets == (None if octets is None else octets * 2)


def test_identity_is_filled_in_from_later_records() -> None:
    summary = merge_all(
        [
            rec("Start", 0, user_name=None, framed_ip=None),
            rec("Interim-Update", 5, framed_ip="100.64.2.10", framed_prefix="2001:db8::/56"),
        ]
    )
    assert summary.user_name == "jiro@example.net"
    assert summary.framed_ip == "100.64.2.10"
    assert summary.framed_prefix == "2001:db8::/56"


def test_merging_records_of_another_session_is_a_caller_bug() -> None:
    other = RadiusRecord(1, "Start", "other", "B9", None, None, None, None, T0)
    with pytest.raises(ValueError, match="merged into"):
        merge_session(merge_session(None, rec("Start", 0)), other)


radius_records = st.builds(
    rec,
    status=st.sampled_from(["Start", "Stop", "Interim-Update"]),
    minutes=st.integers(min_value=-120, max_value=120),
    session_time=st.none() | st.integers(min_value=0, max_value=10_000),
    octets=st.none() | st.integers(min_value=0, max_value=2**40),
    user_name=st.sampled_from([None, "jiro@example.net", "rin@example.net"]),
    nas=st.sampled_from([None, "203.0.113.2"]),
    framed_ip=st.sampled_from([None, "198.51.100.201", "100.64.2.10"]),
    framed_prefix=st.sampled_from([None, "2001:db8::/56"]),
)


@given(records=st.lists(radius_records, min_size=1, max_size=8), data=st.data())
def test_merge_is_order_independent_and_idempotent(
    records: list[RadiusRecord], data: st.DataObject
) -> None:
    """SPEC §2 sessions are rebuilt from files imported in any order, any number of times."""
    expected = merge_all(records)
    shuffled = data.draw(st.permutations(records))
    repeated = data.draw(st.lists(st.sampled_from(records), max_size=8))
    assert merge_all(shuffled) == expected
    assert merge_all(shuffled + repeated) == expected
    assert merge_all(repeated + records) == expected
    for record in records:
        assert merge_session(expected, record) == expected
    assert reduce(merge_session, records, None) == expected


@given(records=st.lists(radius_records, min_size=2, max_size=6))
def test_merging_in_two_batches_is_merging_at_once(records: list[RadiusRecord]) -> None:
    """What an import stores and a later import resumes from gives the same summary."""
    for cut in range(1, len(records)):
        stored = merge_all(records[:cut])
        resumed = reduce(merge_session, records[cut:], stored)
        assert resumed == merge_all(records)


def test_every_order_of_a_small_session_agrees() -> None:
    records = [
        rec("Interim-Update", 30, 1800, 100),
        rec("Stop", 60, 3600, 500),
        rec("Start", 0),
        rec("Stop", 60, 3600, 500),
    ]
    summaries = {merge_all(list(order)) for order in itertools.permutations(records)}
    assert len(summaries) == 1


# --- robustness ---------------------------------------------------------------------------------

detail_lines = st.lists(
    st.sampled_from(
        [
            "",
            HEADER,
            "\tAcct-Status-Type = Start",
            "\tAcct-Status-Type = Accounting-On",
            '\tAcct-Session-Id = "B1"',
            "\tNAS-IP-Address = 203.0.113.2",
            '\tEvent-Timestamp = "Dec 31 9999 23:59:59 -2359"',
            '\tEvent-Timestamp = "Jan  1 0001 00:00:00 +2359"',
            "\tTimestamp = 0",
            "\tTimestamp = 99999999999999999999",
            "\tAcct-Delay-Time = 99999",
            "\tAcct-Session-Time = 4000000000",
            "\tFramed-IP-Address = 1.2.3",
            "\tDelegated-IPv6-Prefix = ::/0",
            "garbage",
            "\t= novalue",
        ]
    )
    | st.text(max_size=40),
    max_size=20,
).map("\n".join)


@given(text=detail_lines)
def test_parser_never_raises(text: str) -> None:
    for item in parse_detail(text, "fuzz.detail"):
        assert isinstance(item, RadiusRecord | RowError)
