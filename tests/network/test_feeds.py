"""C&C feeds (plain lists, hosts files, CSV with first/last seen) and the CSAM list: good rows
kept, bad rows reported as FILE:LINE, CSAM rows never quoted (seed 002 §28)."""

from __future__ import annotations

from datetime import UTC, datetime

from trustdesk.attribution.records import RowError
from trustdesk.network.feeds import CsamListing, FeedEntry, parse_cc_feed, parse_csam_list


def test_a_plain_list_with_comments_urls_and_garbage() -> None:
    text = (
        "# C2 list\n\nevil.example\nEVIL2.example.  # inline\n; other comment\n"
        "http://c2.example/gate.php\n1.2.3.4\nco.jp\ntwo names.example\n"
    )
    items = list(parse_cc_feed(text, "feed.txt"))
    assert [(i.line, i.domain) for i in items if isinstance(i, FeedEntry)] == [
        (3, "evil.example"),
        (4, "evil2.example"),
        (6, "c2.example"),
    ]
    errors = [str(i) for i in items if isinstance(i, RowError)]
    assert [e.split(":")[1] for e in errors] == ["7", "8", "9"]
    assert errors[0].startswith("feed.txt:7: '1.2.3.4' is an IP address")


def test_a_hosts_file_skips_its_boilerplate_names() -> None:
    text = (
        "127.0.0.1 localhost\n::1 ip6-localhost\n0.0.0.0 a.example b.example # c\n"
        "0.0.0.0\nnot-an-address z.example\n"
    )
    items = list(parse_cc_feed(text, "hosts"))
    assert [i.domain for i in items if isinstance(i, FeedEntry)] == ["a.example", "b.example"]
    assert [i.line for i in items if isinstance(i, RowError)] == [4, 5]


def test_a_csv_with_first_and_last_seen_and_a_reason() -> None:
    text = (
        "first_seen,domain,last_seen,malware\n"
        "2026-10-01 00:00:00+00:00,c2.example,2026-10-19T12:00:00Z,Emotet\n"
        '2026-10-02T09:00:00+09:00,"x.example",,\n'
        "2026-10-03 00:00:00,naive.example,,QakBot\n"
        "short,row\n"
    )
    items = list(parse_cc_feed(text, "feed.csv"))
    good = [i for i in items if isinstance(i, FeedEntry)]
    assert good[0] == FeedEntry(
        2,
        "c2.example",
        "Emotet",
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 10, 19, 12, tzinfo=UTC),
    )
    assert good[1].reason is None and good[1].last_seen is None
    errors = [i for i in items if isinstance(i, RowError)]
    assert [e.line for e in errors] == [4, 5]
    assert "no UTC offset" in errors[0].reason


def test_naive_csv_times_take_the_zone_the_operator_names() -> None:
    text = "domain,first_seen\nnaive.example,2026-10-03 00:00:00\n"
    [entry] = parse_cc_feed(text, "feed.csv", assume_zone=UTC)
    assert isinstance(entry, FeedEntry) and entry.first_seen == datetime(2026, 10, 3, tzinfo=UTC)


def test_the_format_can_be_forced() -> None:
    [item] = parse_cc_feed("0.0.0.0 a.example\n", "f", fmt="plain")
    assert isinstance(item, RowError) and "more than one name" in item.reason


def test_csam_urls_block_their_host_and_say_so() -> None:
    text = (
        "http://Host.example/a/b.jpg\nhttps://host.example/?id=3\nwhole.example\nwhole.example/\n"
    )
    items = list(parse_csam_list(text, "list.txt"))
    assert items == [
        CsamListing(1, "host.example/a/b.jpg", "host.example", True),
        CsamListing(2, "host.example/?id=3", "host.example", True),
        CsamListing(3, "whole.example", "whole.example", False),
        CsamListing(4, "whole.example/", "whole.example", False),
    ]


def test_csam_errors_never_quote_the_row() -> None:
    secret = "secret-path-1234"
    text = f"ftp://bad.example/{secret}\nhttp://192.0.2.1/{secret}\nhttp://x..example/{secret}\n"
    errors = list(parse_csam_list(text, "list.txt"))
    assert all(isinstance(e, RowError) for e in errors)
    assert [e.line for e in errors if isinstance(e, RowError)] == [1, 2, 3]
    assert not any(secret in str(e) or "example" in str(e).split(":", 2)[2] for e in errors)
