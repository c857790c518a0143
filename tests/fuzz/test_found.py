"""Each input the fuzzers found that broke a parser (bench/RESULTS.md, "Fuzzing"), kept as a
test: before its fix every one of these raised something other than the parser's own error, or
gave a value that could not be stored or computed with."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest

from tests.conftest import COMPLAINTS
from tests.fuzz import seeds
from tests.fuzz.targets import NOW, RELAYS, run
from trustdesk.attribution.cgnat import parse_junos
from trustdesk.attribution.records import PortBlockEvent, RowError
from trustdesk.attribution.registry_csv import parse_subscribers
from trustdesk.cases.replies import read_reply
from trustdesk.cases.service import case_number
from trustdesk.fraud.exceptions import OrderInvalid
from trustdesk.fraud.order import parse_order
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import UnparseableDocument
from trustdesk.intake.shadowserver import parse_rows
from trustdesk.network.accesslog import read_access_log
from trustdesk.network.feeds import CsamListing, FeedEntry, parse_cc_feed, parse_csam_list
from trustdesk.timeutil import OutOfCalendarError, parse_instant, parse_mail_date
from trustdesk.web.complaint_forms import build

GROUPS = ("a:" * 3000).encode()  # RFC 5322 group syntax, nested by the stdlib once a colon


def _with_from(value: bytes) -> bytes:
    mail = (COMPLAINTS / "static_direct.eml").read_bytes()
    return re.sub(rb"(?m)^From: .*$", lambda _: b"From: " + value, mail, count=1)


def test_a_from_header_of_thousands_of_groups_is_no_sender() -> None:
    """RecursionError from email.utils.parseaddr in mail.sender."""
    [report] = parse_document(_with_from(GROUPS), "x.eml", RELAYS)
    assert report.complainant.email is None and report.source_ip == "198.51.100.61"


def test_a_reply_whose_from_has_thousands_of_groups_names_no_sender() -> None:
    """RecursionError from email.utils.getaddresses in cases.replies (before every parse)."""
    found = read_reply(_with_from(GROUPS))
    assert found is not None and found.from_address is None


def test_a_feed_read_as_csv_without_a_domain_column_is_one_row_error() -> None:
    """AssertionError when the operator gave --format csv for a file that is no such CSV."""
    [error] = parse_cc_feed("evil.example\nother.example\n", "feed.txt", "csv")
    assert isinstance(error, RowError) and error.line == 1
    assert "names no domain column" in error.reason


def test_a_feed_row_over_the_csv_field_limit_is_a_row_error() -> None:
    """_csv.Error (field larger than field limit) escaped the C&C feed parser."""
    text = "domain,reason\nevil.example,ok\n" + '"' + "x" * 140_000 + "\nlast.example,ok\n"
    items = list(parse_cc_feed(text, "feed.csv"))
    assert [i.domain for i in items if isinstance(i, FeedEntry)] == ["evil.example", "last.example"]
    [error] = [item for item in items if isinstance(item, RowError)]
    assert "field larger than field limit" in error.reason


def test_a_csam_url_with_an_unclosed_bracket_is_a_row_error_that_does_not_quote_it() -> None:
    """ValueError ("Invalid IPv6 URL") from urlsplit ended the import of the CSAM list."""
    bad, good = parse_csam_list("https:[//host.example/path\nok.example\n", "csam.txt")
    assert isinstance(bad, RowError) and "host.example" not in bad.reason
    assert isinstance(good, CsamListing) and good.host == "ok.example"


def test_a_cc_feed_url_with_an_unclosed_bracket_is_a_row_error() -> None:
    """The same ValueError in a C&C feed: the row is refused, the rest read."""
    bad, good = parse_cc_feed("http://[evil.example/gate\nevil.example\n", "feed.txt")
    assert isinstance(bad, RowError) and isinstance(good, FeedEntry)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_feed_time_without_a_utc_equivalent_is_a_row_error(stamp: str) -> None:
    """A last_seen that no database stores (OverflowError converting it to UTC)."""
    text = f"domain,last_seen\nevil.example,{stamp}\ngood.example,2026-10-20T00:00Z\n"
    bad, good = parse_cc_feed(text, "feed.csv")
    assert isinstance(bad, RowError) and "0002 to 9999" in bad.reason
    assert isinstance(good, FeedEntry) and good.last_seen == datetime(2026, 10, 20, tzinfo=UTC)


def test_an_xarf_date_at_the_calendars_start_is_a_warning() -> None:
    """An XARF Date of 0001-01-01T00:00+00:01: no UTC equivalent, so attribution overflowed."""
    document = json.loads(json.dumps(seeds.XARF4))
    document["Report"]["Date"] = "0001-01-01T00:00+00:01"
    [report] = parse_document(json.dumps(document).encode(), None, RELAYS)
    assert report.observed_at is None
    assert "0002 to 9999" in report.warnings[0]


def test_a_shadowserver_time_at_the_calendars_start_skips_its_row() -> None:
    """OverflowError in the row's fingerprint (its time in UTC)."""
    csv = (COMPLAINTS / seeds.SHADOWSERVER_CSV).read_bytes()
    header, first, rest = csv.split(b"\n", 2)
    broken = first.replace(b'"2026-10-20 00:35:12"', b'"0001-01-01 00:00:00+14:00"')
    reports = parse_document(b"\n".join([header, broken, rest]), seeds.SHADOWSERVER_CSV, RELAYS)
    assert "line 2: bad timestamp '0001-01-01 00:00:00+14:00'" in reports[0].warnings[-1]


def test_a_zip_member_of_corrupt_lzma_data_is_unreadable() -> None:
    """_lzma.LZMAError escaped the Shadowserver unzip (found by tests/fuzz on PostgreSQL)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_LZMA) as archive:
        archive.writestr(seeds.SHADOWSERVER_CSV, (COMPLAINTS / seeds.SHADOWSERVER_CSV).read_bytes())
    data = bytearray(buffer.getvalue())
    data[63:67] = bytes(4)  # the LZMA properties after the local header and the name
    with pytest.raises(UnparseableDocument, match="zip archive"):
        parse_document(bytes(data), seeds.SHADOWSERVER_CSV + ".zip", RELAYS)


def test_a_spam_form_of_blank_lines_is_refused_by_the_form() -> None:
    """The form took a message of "\\r" (its length passes) that intake then refused, so the
    filer got 'unreadable' for what the form had accepted."""
    fields = {k: v for k, v in seeds.SPAM_FIELDS.items() if k != "form_kind"}
    built = build("spam", fields | {"message": "\r\n \r"}, {}, NOW)
    assert built.document is None and built.errors == {"message": "form.error.required"}
    run("public_form", b"form_kind=spam&reporter_email=a%40b.example&message=%0D")


def test_an_access_log_time_at_the_calendars_start_is_a_rejected_line() -> None:
    """OverflowError converting [01/Jan/0001:00:00:00 +0900] to UTC ended the whole log."""
    lines = [
        'h.example 1.2.3.4 - - [01/Jan/0001:00:00:00 +0900] "GET / HTTP/1.1" 200 5 "-" "x"\n',
        'h.example 1.2.3.4 - - [20/Oct/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 7 "-" "x"\n',
    ]
    transfer = read_access_log(lines, "access.log")
    assert [e.line for e in transfer.errors] == [1]
    assert [day.bytes_sent for day in transfer.days.values()] == [7]


def test_an_order_placed_in_the_year_1_is_invalid() -> None:
    """OverflowError in the score's velocity windows (ordered_at - 30 days): a 500."""
    order = json.loads(seeds.orders()[0])
    order["ordered_at"] = "0001-01-01T00:00:00+00:00"
    with pytest.raises(OrderInvalid, match="ordered_at: .*0002 to 9999"):
        parse_order(order)


def test_times_at_the_calendars_ends_are_not_read() -> None:
    """The shared readers refuse what cannot be converted or moved, with the years they take."""
    assert parse_instant("9999-12-31T23:59:59+09:00").year == 9999  # a registry's "for ever"
    for stamp in ("0001-12-31T23:00:00Z", "9999-12-31T23:59:59Z"):
        with pytest.raises(OutOfCalendarError, match="0002 to 9999"):
            parse_instant(stamp)
    assert parse_mail_date("Fri, 31 Dec 9999 23:59:59 -0100") is None


MANY_DIGITS = "2" * 4301  # past CPython's limit for converting digits to an int


def test_a_nat_port_of_thousands_of_digits_is_a_row_error() -> None:
    """ValueError (int of over 4,300 digits) from the CGNAT parser ended the whole import
    (hypothesis, CI of 2026-12-07)."""
    lines = [
        "2026-10-20T08:00:00+09:00 cgn1 {cgnat-pool}[FWNAT]: JSERVICES_NAT_PORT_BLOCK_ALLOC: "
        f"100.64.2.10 -> 203.0.113.140:{MANY_DIGITS}-20735 0x5f2a0001\n",
        "2026-10-20T08:00:05+09:00 cgn1 {cgnat-pool}[FWNAT]: JSERVICES_NAT_PORT_BLOCK_ALLOC: "
        "100.64.2.11 -> 203.0.113.140:20736-21247 0x5f2a0002\n",
    ]
    error, event = parse_junos(lines, "nat.log")
    assert isinstance(error, RowError) and error.line == 1 and "65535" in error.reason
    assert len(error.reason) < 200 and isinstance(event, PortBlockEvent)


def test_an_access_log_size_of_thousands_of_digits_is_a_rejected_line() -> None:
    """The same ValueError, from an access log's byte count."""
    lines = [
        f'h.example 1.2.3.4 - - [20/Oct/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 {MANY_DIGITS}\n',
        'h.example 1.2.3.4 - - [20/Oct/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 7 "-" "x"\n',
    ]
    transfer = read_access_log(lines, "access.log")
    assert [e.line for e in transfer.errors] == [1]
    assert [day.bytes_sent for day in transfer.days.values()] == [7]


def test_a_case_reference_of_thousands_of_digits_names_no_case() -> None:
    """The same ValueError, from a case reference typed or sent by hand."""
    assert case_number(f"TD-{MANY_DIGITS}") == 0
    assert case_number("TD-000012") == 12


def test_a_subscriber_id_longer_than_its_column_is_a_row_error() -> None:
    """PostgreSQL's DataError (value too long for varchar(64)) failed the whole registry
    import; SQLite kept it (hypothesis, CI of 2026-12-07)."""
    text = (
        "subscriber_id,name,email\n"
        f"{'C' * 61}2001,加藤 次郎,taro@kato-home.example\n"
        "C2002,加藤 花子,hanako@kato-home.example\n"
    )
    error, row = parse_subscribers(text, "subscribers.csv")
    assert isinstance(error, RowError) and "at most 64" in error.reason
    assert not isinstance(row, RowError) and row.subscriber_id == "C2002"


def test_a_shadowserver_header_over_the_csv_field_limit_skips_the_file() -> None:
    """_csv.Error (field larger than field limit) escaped the Shadowserver reader from its
    header (hypothesis, CI of 2026-12-07)."""
    reports, skipped = parse_rows('"' + "x" * 140_000 + "\nip\n198.51.100.1\n", None)
    assert reports == [] and "header cannot be read" in skipped[0]
