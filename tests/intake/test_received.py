"""The Received walk (SPEC §1 / seed 000: spam complaint needs full headers; the desk checks the
mail came from our network): reading each MTA's header dialect, and walking the chain from the
top to the hop where the mail entered the recipient's network."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import COMPLAINTS, CONFIG, REAL_WORLD
from trustdesk.intake.received import Hop, Origin, find_origin, parse_received
from trustdesk.settings import load_settings

JST = timezone(timedelta(hours=9))
OUR_RELAYS = frozenset(load_settings(CONFIG).provider.trusted_relays)
WHEN = "Tue, 20 Oct 2026 11:20:04 +0900 (JST)"


def chains_in(path: Path) -> list[list[str]]:
    """Received values of a mail and of every mail attached to it, one list per message."""
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.compat32)
    chains: list[list[str]] = []
    _collect(message, chains)
    return chains


def _collect(message: Message, chains: list[list[str]]) -> None:
    values = message.get_all("Received")
    if values:
        chains.append([str(value) for value in values])
    if message.is_multipart():
        for part in message.get_payload():
            if isinstance(part, Message):
                _collect(part, chains)


def attached_chain(name: str) -> list[str]:
    """The Received chain of the spam attached (message/rfc822) to a complaint fixture."""
    return chains_in(COMPLAINTS / name)[-1]


def postfix(helo: str, rdns: str, ip: str, by: str, extra: str = "") -> str:
    return f"from {helo} ({rdns} [{ip}]){extra}\n\tby {by} (Postfix) with ESMTP id 4Q1; {WHEN}"


# --- parse_received: one row per MTA dialect ---------------------------------------------------

PARSE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "postfix",
        "from mail.kato-home.example (mail.kato-home.example\n [198.51.100.61]) by "
        "mx-in.recipient.example (Postfix) with ESMTP id\n 4Q1xYy9zzz for "
        "<victim@recipient.example>; Tue, 20 Oct 2026 11:20:04 +0900\n (JST)",
        {
            "from_helo": "mail.kato-home.example",
            "from_rdns": "mail.kato-home.example",
            "from_ip": "198.51.100.61",
            "by_host": "mx-in.recipient.example",
            "protocol": "ESMTP",
            "auth_user": None,
            "received_at": datetime(2026, 10, 20, 11, 20, 4, tzinfo=JST),
        },
    ),
    (
        "postfix authenticated",
        "from jiro-pc (p1150-ipoe.example.net [198.51.100.201])\n (Authenticated sender: "
        "jiro@example.net) by smtp.example.net (Postfix) with\n ESMTPSA id 7Z9Y8X for "
        "<victim@recipient.example>; Tue, 20 Oct 2026 09:30:07\n +0900 (JST)",
        {
            "from_helo": "jiro-pc",
            "from_rdns": "p1150-ipoe.example.net",
            "from_ip": "198.51.100.201",
            "by_host": "smtp.example.net",
            "protocol": "ESMTPSA",
            "auth_user": "jiro@example.net",
            "received_at": datetime(2026, 10, 20, 9, 30, 7, tzinfo=JST),
        },
    ),
    (
        "postfix unknown rdns",
        "from ken-pc (unknown [203.0.113.140])\n\tby mx.recipient.example (Postfix) with ESMTP "
        "id 1A; Tue, 20 Oct 2026 02:00:00 +0000 (UTC)",
        {"from_helo": "ken-pc", "from_rdns": None, "from_ip": "203.0.113.140"},
    ),
    (
        "postfix helo is an address literal",
        "from [192.168.1.40] (172.Red-2-139-210.staticIP.rima-tde.net\n  [2.139.210.172]) by "
        "server.domain4.tld (Postfix) with ESMTPA id 81FEE241DD0\n  for <a@b.example>; Thu, 26 "
        "Nov 2015\n  03:10:09 +0100 (CET)",
        {
            "from_helo": "[192.168.1.40]",
            "from_rdns": "172.red-2-139-210.staticip.rima-tde.net",
            "from_ip": "2.139.210.172",
            "by_host": "server.domain4.tld",
        },
    ),
    (
        "postfix IPv6 with prefix",
        "from mail6.sender.example (mail6.sender.example [IPv6:2001:DB8:100:0::25])\n\tby "
        "mx-in.recipient.example (Postfix) with ESMTPS id 5X; Tue, 20 Oct 2026 02:00:00 +0000",
        {"from_ip": "2001:db8:100::25", "from_rdns": "mail6.sender.example"},
    ),
    (
        "IPv6 without prefix",
        "from mail6.sender.example (mail6.sender.example [2001:db8:100::26]) by mx.example "
        "(Postfix) with ESMTP id 6X; Tue, 20 Oct 2026 02:00:00 +0000",
        {"from_ip": "2001:db8:100::26"},
    ),
    (
        "IPv4-mapped IPv6 is written as IPv4",
        "from host.example (host.example [IPv6:::ffff:198.51.100.8]) by mx.example (Postfix) "
        "with ESMTP id 7X; Tue, 20 Oct 2026 02:00:00 +0000",
        {"from_ip": "198.51.100.8"},
    ),
    (
        "postfix local submission has no from part",
        "by reporting2.blocklist.de (Postfix, from userid 1002)\n\tid 72BBA43A49B3F; Fri, 31 "
        "Jan 2014 07:25:31 +0100 (CET)",
        {
            "from_helo": None,
            "from_rdns": None,
            "from_ip": None,
            "by_host": "reporting2.blocklist.de",
            "protocol": None,
            "received_at": datetime(2014, 1, 31, 6, 25, 31, tzinfo=UTC),
        },
    ),
    (
        "exim address literal with helo",
        "from [198.51.100.77] (helo=Ken-Laptop)\n\tby mail.provider.example with esmtpsa "
        "(TLS1.3) tls TLS_AES_256_GCM_SHA384\n\t(Exim 4.96)\n\t(envelope-from "
        "<ken@provider.example>)\n\tid 1qZ9aB-0001xY-2C; Tue, 20 Oct 2026 11:20:04 +0900",
        {
            "from_helo": "ken-laptop",
            "from_rdns": None,
            "from_ip": "198.51.100.77",
            "by_host": "mail.provider.example",
            "protocol": "ESMTPSA",
        },
    ),
    (
        "exim verified name, helo equal so left out",
        "from server14.seinternal.com ([172.16.10.13])\n by server1.test17.example.com with "
        "esmtp (Exim 4.85)\n (envelope-from <admin@example.com>) id 1ZMXvl-000B9p-HH\n for "
        "ashley@example.com; Tue, 04 Aug 2015 02:50:41 -0600",
        {
            "from_helo": "server14.seinternal.com",
            "from_rdns": "server14.seinternal.com",
            "from_ip": "172.16.10.13",
            "protocol": "ESMTP",
        },
    ),
    (
        "exim verified name, port and differing helo, authenticated_id",
        "from p5b0d1234.dip0.t-ipconnect.de ([2003:e2:1234::1]:51234 helo=Laptop) by "
        "mail.host.example with esmtpsa (Exim 4.96) (authenticated_id: ken@host.example) id "
        "1abc-0002; Tue, 20 Oct 2026 02:20:04 +0000",
        {
            "from_helo": "laptop",
            "from_rdns": "p5b0d1234.dip0.t-ipconnect.de",
            "from_ip": "2003:e2:1234::1",
            "auth_user": "ken@host.example",
        },
    ),
    (
        "exim port parameter and authenticated as",
        "from [203.0.113.9] (port=40022 helo=[192.168.0.10]) by smtp.host.example with esmtpa "
        "(authenticated as alice) (Exim 4.94) id 1X; Tue, 20 Oct 2026 02:20:04 +0000",
        {"from_helo": "[192.168.0.10]", "from_ip": "203.0.113.9", "auth_user": "alice"},
    ),
    (
        "address literal with port after the bracket",
        "from [198.51.100.14]:58123 (helo=box) by mx.example with esmtp (Exim 4.96) id 2X; "
        "Tue, 20 Oct 2026 02:20:04 +0000",
        {"from_ip": "198.51.100.14", "from_helo": "box"},
    ),
    (
        "sendmail",
        "from helo.example (rdns.example.org [198.51.100.9])\n\tby mx.recipient.example "
        "(8.15.2/8.15.2) with ESMTP id 9KK2K4x1012345\n\tfor <v@recipient.example>; " + WHEN,
        {
            "from_helo": "helo.example",
            "from_rdns": "rdns.example.org",
            "from_ip": "198.51.100.9",
            "by_host": "mx.recipient.example",
        },
    ),
    (
        "sendmail may be forged, nested comment",
        "from spam.example (host-9.dsl.example.org [198.51.100.9] (may be forged))\n\tby "
        "mx.recipient.example (8.14.4/8.14.4) with ESMTP id 9KK; " + WHEN,
        {"from_helo": "spam.example", "from_rdns": "host-9.dsl.example.org"},
    ),
    (
        "sendmail ident user before the name",
        "from helo (root@rdns.example.org [198.51.100.10]) by mx.example (8.14/8.14) with SMTP "
        "id X; " + WHEN,
        {"from_helo": "helo", "from_rdns": "rdns.example.org", "from_ip": "198.51.100.10"},
    ),
    (
        "sendmail without reverse DNS",
        "from helo.example ([198.51.100.11]) by mx.example.com (8.14.4/8.14.4) with ESMTP id "
        "X; " + WHEN,
        {"from_helo": "helo.example", "from_rdns": None, "from_ip": "198.51.100.11"},
    ),
    (
        "sendmail local submission",
        "(from user@localhost)\n\tby host.example.com (8.14.4/8.14.4/Submit) id X; " + WHEN,
        {"from_helo": None, "from_ip": None, "by_host": "host.example.com"},
    ),
    (
        "qmail unknown rdns",
        "from unknown (HELO spammer.example) (198.51.100.12)\n  by mail.recipient.example with "
        "SMTP; 20 Oct 2026 02:00:00 -0000",
        {
            "from_helo": "spammer.example",
            "from_rdns": None,
            "from_ip": "198.51.100.12",
            "protocol": "SMTP",
            "received_at": datetime(2026, 10, 20, 2, 0, tzinfo=UTC),
        },
    ),
    (
        "qmail with rdns",
        "from hfc-181-142-199-114.une.net.co (HELO ?181.142.199.114?)\n (181.142.199.114)\n by "
        "ip-46.97.hospedando.com with ESMTPA; 19 Jan 2016 20:32:35 +0100",
        {
            "from_helo": "?181.142.199.114?",
            "from_rdns": "hfc-181-142-199-114.une.net.co",
            "from_ip": "181.142.199.114",
            "protocol": "ESMTPA",
        },
    ),
    (
        "qmail invoked from network",
        "(qmail 24962 invoked from network); 19 Jan 2016 20:32:36 +0100",
        {"from_helo": None, "from_ip": None, "by_host": None},
    ),
    (
        "exchange frontend",
        "from mail.sender.example (198.51.100.7) by BN1NAM02FT012.mail.protection.outlook.com "
        "(10.13.2.100) with Microsoft SMTP Server (version=TLS1_2,\n "
        "cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7544.11 via Frontend "
        "Transport; Tue, 20 Oct 2026 02:20:04 +0000",
        {
            "from_helo": "mail.sender.example",
            "from_rdns": None,
            "from_ip": "198.51.100.7",
            "by_host": "bn1nam02ft012.mail.protection.outlook.com",
            "protocol": "MICROSOFT",
            "received_at": datetime(2026, 10, 20, 2, 20, 4, tzinfo=UTC),
        },
    ),
    (
        "exchange IPv6 internal hop",
        "from AM6PR04MB1234.eurprd04.prod.outlook.com (2603:10a6:20b:1::1) by "
        "AM6PR04MB5678.eurprd04.prod.outlook.com (2603:10a6:20b:2::2) with Microsoft SMTP "
        "Server (version=TLS1_2) id 15.20.1234.5; Tue, 20 Oct 2026 02:20:05 +0000",
        {
            "from_helo": "am6pr04mb1234.eurprd04.prod.outlook.com",
            "from_ip": "2603:10a6:20b:1::1",
            "by_host": "am6pr04mb5678.eurprd04.prod.outlook.com",
        },
    ),
    (
        "gmail inbound",
        "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\n        by "
        "mx.google.com with SMTPS id a1sor.2026.10.20\n        for <v@gmail.com>\n        "
        "(Google Transport Security);\n        Tue, 20 Oct 2026 02:20:04 -0700 (PDT)",
        {
            "from_helo": "mail-sor-f41.google.com",
            "from_rdns": "mail-sor-f41.google.com",
            "from_ip": "209.85.220.41",
            "by_host": "mx.google.com",
            "protocol": "SMTPS",
            "received_at": datetime(2026, 10, 20, 9, 20, 4, tzinfo=UTC),
        },
    ),
    (
        "gmail internal hop recorded by an IPv6 address",
        "by 2002:a05:6a10:8d0c:b0:4f1:2a3b:4c5d with SMTP id c132csp2233567itc;\n        Tue, "
        "20 Oct 2026 02:20:05 -0700 (PDT)",
        {"from_ip": None, "by_host": "2002:a05:6a10:8d0c:b0:4f1:2a3b:4c5d", "protocol": "SMTP"},
    ),
    (
        "yahoo NNFMP",
        "from [66.196.81.179] by n3.bullet.mail.bf1.yahoo.com with NNFMP; 20 Jan 2016 08:00:34 "
        "-0000",
        {
            "from_helo": None,
            "from_ip": "66.196.81.179",
            "protocol": "NNFMP",
            "received_at": datetime(2016, 1, 20, 8, 0, 34, tzinfo=UTC),
        },
    ),
    (
        "LMTP with LHLO",
        "from correo.domain1.tld (LHLO correo.domain1.tld) (192.0.2.6)\n by correo.domain1.tld "
        "with LMTP; Tue, 19 Jan 2016 20:33:06 +0100 (CET)",
        {
            "from_helo": "correo.domain1.tld",
            "from_rdns": "correo.domain1.tld",
            "from_ip": "192.0.2.6",
            "protocol": "LMTP",
        },
    ),
    (
        "amavis content filter on loopback",
        "from correo.domain1.tld ([127.0.0.1])\n\tby localhost (correo.domain1.tld [127.0.0.1]) "
        "(amavisd-new, port 10026)\n\twith ESMTP id acxyU40wVHEo for <abuse@domain3.tld>;\n\tTue, "
        "19 Jan 2016 20:33:06 +0100 (CET)",
        {"from_helo": "correo.domain1.tld", "from_ip": "127.0.0.1", "by_host": "localhost"},
    ),
    (
        "ecelerity port inside the brackets",
        "from [10.17.18.15] ([10.17.18.15:46604]\n  helo=server.domain4.tld) by "
        "smtp62.gate.dfw1a.rsapps.net (envelope-from\n  <info@domain3.tld>) (ecelerity 2.2.3.49 "
        "r(42060/42061)) with ESMTPS\n  (cipher=AES256-SHA)  id 33/8B-29871-40A66565; Wed, 25 "
        "Nov 2015 21:10:13\n  -0500",
        {
            "from_helo": "server.domain4.tld",
            "from_rdns": None,
            "from_ip": "10.17.18.15",
            "by_host": "smtp62.gate.dfw1a.rsapps.net",
            "protocol": "ESMTPS",
        },
    ),
    (
        "bare address literal after the name",
        "from co03.mbox.net [165.212.64.33] by nm11.cms.usa.net via smtad\n  (C8.MAIN.4.04K)  "
        "with ESMTPS id XID920; Sat, 09 Jan 2016\n  03:56:27 -0000",
        {"from_helo": "co03.mbox.net", "from_ip": "165.212.64.33", "protocol": "ESMTPS"},
    ),
    (
        "courier AUTH comment",
        "from laptop ([198.51.100.15])\n  (AUTH: LOGIN kenji@provider.example, TLS: "
        "TLSv1/SSLv3,256bits,AES256-SHA)\n  by mail.provider.example with ESMTPSA; Tue, 20 Oct "
        "2026 02:20:04 +0000",
        {"from_helo": "laptop", "from_ip": "198.51.100.15", "auth_user": "kenji@provider.example"},
    ),
    (
        "sender name without address",
        "from mail.zoho.com by mx.zohomail.com\n\twith SMTP id 1441682223439882.58; Mon, 7 Sep "
        "2015 20:17:03 -0700 (PDT)",
        {"from_helo": "mail.zoho.com", "from_ip": None, "by_host": "mx.zohomail.com"},
    ),
    (
        "anonymised address is no address",
        "from rl3.domain1.tld (rl3.domain1.tld [XX.YY.ZZ.53])\n\tby correo.domain1.tld (Postfix) "
        "with ESMTP id 814173A4B4E01; Tue, 19 Jan 2016 20:33:06 +0100 (CET)",
        {"from_rdns": "rl3.domain1.tld", "from_ip": None},
    ),
    (
        "sender says HELO by",
        "from by (unknown [198.51.100.16]) by mx.example (Postfix) with ESMTP id 8X; " + WHEN,
        {"from_helo": "by", "from_ip": "198.51.100.16", "by_host": "mx.example"},
    ),
    (
        "recorder name with trailing dot",
        "from a.example (a.example. [198.51.100.17]) by MX.Example.ORG. with ESMTP id 9X; " + WHEN,
        {"from_rdns": "a.example", "by_host": "mx.example.org"},
    ),
]


@pytest.mark.parametrize(
    ("header", "expected"), [pytest.param(h, e, id=name) for name, h, e in PARSE_CASES]
)
def test_parse_received_reads_each_dialect(header: str, expected: dict[str, Any]) -> None:
    hop = parse_received(header)
    assert {field: getattr(hop, field) for field in expected} == expected


def test_raw_is_the_unfolded_value() -> None:
    hop = parse_received("from a (a [198.51.100.1])\r\n\tby b.example\n  with SMTP; " + WHEN)
    assert hop.raw == "from a (a [198.51.100.1]) by b.example with SMTP; " + WHEN


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param(
            "Tue, 20 Oct 2026 11:20:04 +0900 (JST)",
            datetime(2026, 10, 20, 2, 20, 4, tzinfo=UTC),
            id="numeric zone with comment",
        ),
        pytest.param(
            "20 Oct 2026 02:20:04 -0000",
            datetime(2026, 10, 20, 2, 20, 4, tzinfo=UTC),
            id="-0000 is UTC",
        ),
        pytest.param(
            "Tue, 19 Jan 2016 14:32:49 EST",
            datetime(2016, 1, 19, 19, 32, 49, tzinfo=UTC),
            id="RFC 822 zone name",
        ),
        pytest.param("Tue, 20 Oct 2026 11:20:04", None, id="no zone is not guessed"),
        pytest.param("Tue, 20 Oct 2026 11:20:04 JST", None, id="unknown zone is not guessed"),
        pytest.param("yesterday", None, id="not a date"),
        pytest.param("Tue, 45 Oct 2026 11:20:04 +0900", None, id="impossible day"),
        pytest.param("Tue, 20 Oct 2026 11:20:04 +9900", None, id="impossible offset"),
        pytest.param("", None, id="empty"),
    ],
)
def test_date_after_the_last_semicolon(date: str, expected: datetime | None) -> None:
    received_at = parse_received(f"from a ([198.51.100.1]) by b with SMTP id x; {date}").received_at
    assert received_at == expected
    assert received_at is None or received_at.tzinfo is not None


def test_no_semicolon_means_no_date() -> None:
    assert parse_received("from a (a [198.51.100.1]) by b with SMTP").received_at is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "from",
        "by",
        "with",
        "(((",
        ")))",
        "from [",
        "from x (y [z",
        ";;;",
        "from (",
        "from (unclosed by x; Tue, 20 Oct 2026 11:20:04 +0900",
        "[]",
        "from [::ffff:] by [",
        "from [999.1.1.1] (helo=) by",
        "\x00\ud7ff\n\t",
        "from a (HELO) (b) by c with",
    ],
)
def test_garbage_gives_a_hop_of_nones(garbage: str) -> None:
    hop = parse_received(garbage)
    assert isinstance(hop, Hop)
    assert hop.from_ip is None and hop.auth_user is None and hop.received_at is None


def test_every_received_header_of_the_real_world_shaped_reports_parses() -> None:
    """FBL mails with embedded messages, SpamExperts, blocklist.de, Shadowserver (fixtures
    real-world/: each sender's header dialects)."""
    files = sorted(REAL_WORLD.glob("**/*.eml"))
    headers = [value for path in files for chain in chains_in(path) for value in chain]
    assert len(headers) > 100
    hops = [parse_received(value) for value in headers]
    assert sum(hop.by_host is not None for hop in hops) > 0.9 * len(hops)
    assert sum(hop.received_at is not None for hop in hops) > 0.9 * len(hops)
    for path in files:
        for chain in chains_in(path):
            origin = find_origin(chain, OUR_RELAYS)
            assert origin.ip is None or origin.ip in {parse_received(v).from_ip for v in chain}


# --- find_origin on the Example Net complaints -------------------------------------------------


def test_static_direct_origin_is_the_sender_that_reached_the_recipient() -> None:
    origin = find_origin(attached_chain("static_direct.eml"), OUR_RELAYS)
    assert origin.ip == "198.51.100.61"
    assert origin.observed_at == datetime(2026, 10, 20, 11, 20, 4, tzinfo=JST)
    assert origin.observed_at.isoformat() == "2026-10-20T11:20:04+09:00"
    assert origin.hop_index == 1
    assert (origin.helo, origin.rdns, origin.auth_user) == (
        "mail.kato-home.example",
        "mail.kato-home.example",
        None,
    )
    assert origin.warnings == ()
    assert any(
        "recipient's organisational domain is recipient.example" in line for line in origin.path
    )
    assert (
        "hop 1: 198.51.100.61 (rdns mail.kato-home.example, helo mail.kato-home.example) "
        "handed to mx-in.recipient.example: entered the recipient's network here"
    ) in origin.path
    assert origin.path[-1].startswith("hops below hop 1 are not believed")


def test_smarthost_dynamic_origin_is_the_customer_behind_our_relay() -> None:
    origin = find_origin(attached_chain("smarthost_dynamic.eml"), OUR_RELAYS)
    assert origin.ip == "198.51.100.201"
    assert origin.auth_user == "jiro@example.net"
    assert (origin.helo, origin.rdns) == ("jiro-pc", "p1150-ipoe.example.net")
    assert origin.observed_at is not None
    assert origin.observed_at.isoformat() == "2026-10-20T09:30:07+09:00"
    assert origin.hop_index == 2
    assert origin.warnings == ()
    assert any("our own relay" in line for line in origin.path)


def test_smarthost_dynamic_without_trusted_relays_stops_at_the_relay() -> None:
    origin = find_origin(attached_chain("smarthost_dynamic.eml"), ())
    assert origin.ip == "203.0.113.25"
    assert origin.hop_index == 1
    assert origin.auth_user is None
    assert origin.observed_at is not None
    assert origin.observed_at.isoformat() == "2026-10-20T09:30:08+09:00"


def test_blocklist_de_walks_the_private_hops_and_unqualified_names() -> None:
    """``by server`` / ``by mailscanner`` on 192.168.x: inside; blocklist.de is the entry."""
    chain = chains_in(REAL_WORLD / "blocklistde" / "regbot-ipv4.eml")[0]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "192.0.2.114"
    assert origin.hop_index == 2
    assert origin.rdns == "reporting2.blocklist.de"


# --- forgeries ---------------------------------------------------------------------------------

TOP = postfix(
    "mx-in.recipient.example", "mx-in.recipient.example", "192.0.2.44", "mbox.recipient.example"
)
RELAY = postfix("smtp.example.net", "smtp.example.net", "203.0.113.25", "mx-in.recipient.example")
CUSTOMER = postfix(
    "jiro-pc",
    "p1150-ipoe.example.net",
    "198.51.100.201",
    "smtp.example.net",
    extra=" (Authenticated sender: jiro@example.net)",
)
FORGED_ELSEWHERE = postfix(
    "trusted.example.net", "trusted.example.net", "198.51.100.99", "somewhere-else.example"
)


def forged_by(recorder: str) -> str:
    """A hop a sender wrote itself, made to look as if ``recorder`` wrote it."""
    return postfix("trusted.example.net", "trusted.example.net", "198.51.100.99", recorder)


FORGED_RECORDERS = "somewhere-else.example mail.kato-home.example mx-in.recipient.example"


@pytest.mark.parametrize("recorder", [*FORGED_RECORDERS.split(), "smtp.example.net"])
def test_forgery_below_the_entry_point_is_never_the_origin(recorder: str) -> None:
    chain = [*attached_chain("static_direct.eml"), forged_by(recorder)]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "198.51.100.61"
    assert origin.hop_index == 1


def test_forgery_below_a_broken_chain_is_never_the_origin() -> None:
    """Hop 1 was not written by mx-in, the host hop 0 says handed the mail over: nothing below
    hop 0 is believed, and the mail never left the recipient's network, so no origin."""
    inside_but_elsewhere = postfix(
        "relay.recipient.example", "relay.recipient.example", "10.1.2.3", "other.recipient.example"
    )
    chain = [TOP, inside_but_elsewhere, forged_by("relay.recipient.example")]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip is None and origin.hop_index is None
    assert origin.warnings[0].startswith(
        "chain broken at hop 1: it was recorded by other.recipient.example"
    )
    assert "not believed" in origin.warnings[0]


def test_forged_hop_directly_under_the_top_is_a_broken_chain() -> None:
    origin = find_origin([TOP, FORGED_ELSEWHERE], OUR_RELAYS)
    assert origin.ip is None
    assert "chain broken at hop 1" in origin.warnings[0]


def test_pretending_to_come_through_our_relay_below_the_real_entry() -> None:
    """The spammer at 192.0.2.200 connects to the recipient itself and appends hops that make
    the mail look relayed by our smarthost: the relay is not the entry point, so it is not
    passed, and the spammer is the origin."""
    spammer = postfix(
        "smtp.example.net", "dsl-200.cheap.example", "192.0.2.200", "mx-in.recipient.example"
    )
    chain = [
        TOP,
        spammer,
        RELAY.replace("mx-in.recipient.example", "dsl-200.cheap.example"),
        CUSTOMER,
    ]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "192.0.2.200"
    assert origin.hop_index == 1


def test_our_relay_as_entry_with_an_unconnected_hop_below_is_the_origin_itself() -> None:
    origin = find_origin([TOP, RELAY, FORGED_ELSEWHERE], OUR_RELAYS)
    assert origin.ip == "203.0.113.25"
    assert origin.hop_index == 1
    assert origin.warnings == (
        "hop 2 below our relay 203.0.113.25 could not be verified: it was recorded by "
        "somewhere-else.example, not by smtp.example.net / 203.0.113.25; the origin is the "
        "relay itself",
    )


def test_our_relay_below_a_broken_chain_is_not_followed() -> None:
    chain = [TOP, RELAY.replace("mx-in.recipient.example", "mx9.elsewhere.example"), CUSTOMER]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip is None
    assert "chain broken at hop 1" in origin.warnings[0]


def test_our_relay_that_recorded_nothing_below_is_the_origin() -> None:
    origin = find_origin([TOP, RELAY], OUR_RELAYS)
    assert origin.ip == "203.0.113.25"
    assert origin.warnings == (
        "our relay 203.0.113.25 recorded no sender below it: the origin is the relay",
    )


# --- the walk, rule by rule --------------------------------------------------------------------


def test_hop_recorded_by_the_relay_ip_literal_passes_the_chain_check() -> None:
    by_literal = CUSTOMER.replace("by smtp.example.net", "by [203.0.113.25]")
    assert find_origin([TOP, RELAY, by_literal], OUR_RELAYS).ip == "198.51.100.201"


def test_relay_followed_through_its_content_filter() -> None:
    """Loopback hand-offs below our relay (amavis) are steps on the relay itself."""
    reinjected = postfix("localhost", "localhost", "127.0.0.1", "smtp.example.net")
    filtered = (
        "from smtp.example.net ([127.0.0.1])\n\tby localhost (smtp.example.net "
        f"[127.0.0.1]) (amavisd-new, port 10024)\n\twith ESMTP id abc; {WHEN}"
    )
    origin = find_origin([TOP, RELAY, reinjected, filtered, CUSTOMER], OUR_RELAYS)
    assert origin.ip == "198.51.100.201"
    assert origin.hop_index == 4
    assert origin.auth_user == "jiro@example.net"


def test_relay_behind_relay_is_followed_to_the_customer() -> None:
    second = postfix("smtp2.example.net", "smtp2.example.net", "203.0.113.26", "smtp.example.net")
    customer = CUSTOMER.replace("by smtp.example.net", "by smtp2.example.net")
    origin = find_origin([TOP, RELAY, second, customer], OUR_RELAYS)
    assert origin.ip == "198.51.100.201"
    assert origin.hop_index == 3


def test_our_relay_is_followed_even_when_the_recipient_is_one_of_our_customers() -> None:
    """Our relay is never part of the recipient's network, even if both share a domain."""
    top = postfix("mx1.example.net", "mx1.example.net", "203.0.113.40", "mbox.example.net")
    relay = RELAY.replace("mx-in.recipient.example", "mx1.example.net")
    origin = find_origin([top, relay, CUSTOMER], OUR_RELAYS)
    assert origin.ip == "198.51.100.201"


def test_loopback_hop_passes_the_chain_check_whatever_the_next_recorder() -> None:
    """Content filters (amavis) hand the mail over on the same machine under other names."""
    chain = [
        postfix("correo.domain1.tld", "localhost", "127.0.0.1", "correo.domain1.tld"),
        "from correo.domain1.tld ([127.0.0.1])\n\tby filter.anything.example (correo.domain1.tld "
        f"[127.0.0.1]) (amavisd-new, port 10026)\n\twith ESMTP id x; {WHEN}",
        postfix("rl3.domain1.tld", "rl3.domain1.tld", "192.0.2.53", "correo.domain1.tld"),
        postfix("smr.mx.aol.com", "smr-a02e.mx.aol.com", "204.29.186.244", "rl3.domain1.tld"),
    ]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "204.29.186.244"
    assert origin.hop_index == 3


@pytest.mark.parametrize(
    ("handed_by", "recorder", "believed"),
    [
        ("server.domain.tld", "server", True),
        ("server", "server.domain.tld", True),
        ("smtp53.gate.dfw1a", "smtp53.gate.dfw1a.rsapps.net", True),
        ("MX-IN.Recipient.Example.", "mx-in.recipient.example", True),
        ("server.domain.tld", "server.other.tld", False),
        ("serverx", "server.domain.tld", False),
        ("server.domain.tld", "domain.tld", False),
    ],
)
def test_chain_check_names(handed_by: str, recorder: str, believed: bool) -> None:
    inside = postfix(handed_by, handed_by, "10.0.0.5", "mbox.domain.tld")
    outside = postfix("ext.example", "ext.example", "198.51.100.50", recorder)
    origin = find_origin([inside, outside], OUR_RELAYS)
    assert (origin.ip == "198.51.100.50") is believed


def test_chain_check_accepts_the_ip_literal_as_recorder() -> None:
    inside = postfix("relay", "unknown", "10.0.0.5", "mbox.domain.tld")
    outside = postfix("ext.example", "ext.example", "198.51.100.50", "10.0.0.5")
    assert find_origin([inside, outside], OUR_RELAYS).ip == "198.51.100.50"


def test_local_hand_offs_are_skipped() -> None:
    """Rule 2: hops with no from part, or no address, are skipped, and the walk goes on."""
    chain = [
        "by mbox.recipient.example (Postfix, from userid 1002) id 1; " + WHEN,
        TOP,
        "(qmail 24962 invoked from network); 20 Oct 2026 02:20:03 -0000",
        postfix(
            "mail.kato-home.example",
            "mail.kato-home.example",
            "198.51.100.61",
            "mx-in.recipient.example",
        ),
    ]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "198.51.100.61"
    assert origin.hop_index == 3
    assert sum("local hand-off, skipped" in line for line in origin.path) == 2


def test_a_sender_named_without_address_may_record_the_next_hop() -> None:
    chain = [
        TOP,
        f"from filter.recipient.example by mx-in.recipient.example with SMTP id 2; {WHEN}",
        postfix("ext.example", "ext.example", "198.51.100.50", "filter.recipient.example"),
    ]
    assert find_origin(chain, OUR_RELAYS).ip == "198.51.100.50"


def test_gmail_top_recorded_by_an_address_looks_to_the_next_recorder_for_the_domain() -> None:
    chain = [
        "by 2002:a05:6a10:8d0c:b0:4f1:2a3b:4c5d with SMTP id c132csp;\n Tue, 20 Oct 2026 "
        "02:20:05 -0700 (PDT)",
        "from mail.kato-home.example (mail.kato-home.example. [198.51.100.61])\n by "
        "mx.google.com with ESMTPS id x\n for <v@gmail.com>;\n Tue, 20 Oct 2026 02:20:04 -0700",
    ]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "198.51.100.61"
    assert any("organisational domain is google.com" in line for line in origin.path)


def test_complainant_domains_extend_the_recipient_network() -> None:
    """The complainant's outsourced filter (its From domain) is inside the recipient's network."""
    chain = [
        postfix(
            "filter.mailguard.example",
            "filter.mailguard.example",
            "192.0.2.80",
            "mbox.recipient.example",
        ),
        postfix(
            "mail.kato-home.example",
            "mail.kato-home.example",
            "198.51.100.61",
            "filter.mailguard.example",
        ),
    ]
    assert find_origin(chain, OUR_RELAYS).ip == "192.0.2.80"
    origin = find_origin(chain, OUR_RELAYS, complainant_domains=("mail.mailguard.example",))
    assert origin.ip == "198.51.100.61"
    assert "the complainant's domain mail.mailguard.example counts as mailguard.example" in (
        origin.path
    )


def test_public_suffix_gives_the_organisational_domain() -> None:
    """co.uk is a public suffix: mx.b.co.uk and relay.c.co.uk belong to different owners."""
    chain = [
        postfix("relay.b.co.uk", "relay.b.co.uk", "192.0.2.81", "mx.b.co.uk"),
        postfix("relay.c.co.uk", "relay.c.co.uk", "192.0.2.82", "relay.b.co.uk"),
    ]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "192.0.2.82"
    assert any("organisational domain is b.co.uk" in line for line in origin.path)


def test_rdns_outside_wins_over_a_helo_inside() -> None:
    """The sender chose the HELO name; the recorded reverse DNS says it is someone else."""
    liar = postfix(
        "mx.recipient.example", "dsl-66.isp.example", "198.51.100.66", "mx-in.recipient.example"
    )
    origin = find_origin([TOP, liar, forged_by("mx.recipient.example")], OUR_RELAYS)
    assert origin.ip == "198.51.100.66"


def test_helo_alone_never_makes_a_public_hop_inside() -> None:
    """A HELO name is the sender's own claim: a spammer without reverse DNS who says HELO with
    the recipient's domain must not get its forged hops below believed. The hop is the entry
    point, and the operator is told why."""
    chain = [
        "from mx1.recipient.example (192.0.2.90) by mbox.recipient.example (192.0.2.91) with "
        f"Microsoft SMTP Server id 15.1.2; {WHEN}",
        "from mail.kato-home.example (198.51.100.61) by mx1.recipient.example (192.0.2.90) with "
        f"Microsoft SMTP Server id 15.1.2 via Frontend Transport; {WHEN}",
    ]
    origin = find_origin(chain, OUR_RELAYS)
    assert origin.ip == "192.0.2.90"
    assert origin.hop_index == 0
    assert any("only claims a name in the recipient's domain by HELO" in w for w in origin.warnings)


def test_ipv6_entry_point() -> None:
    chain = [
        TOP,
        postfix(
            "mail6.kato-home.example",
            "mail6.kato-home.example",
            "IPv6:2001:DB8:100::25",
            "mx-in.recipient.example",
        ),
    ]
    assert find_origin(chain, OUR_RELAYS).ip == "2001:db8:100::25"


@pytest.mark.parametrize(
    "ip", "10.9.8.7 172.16.0.9 192.168.3.4 169.254.1.1 fd00::7 fe80::7 ::1 127.0.0.2".split()
)
def test_private_loopback_and_link_local_senders_are_inside(ip: str) -> None:
    chain = [
        postfix("host", "unknown", ip, "mbox.recipient.example"),
        postfix("ext.example", "ext.example", "198.51.100.50", "host"),
    ]
    assert find_origin(chain, OUR_RELAYS).ip == "198.51.100.50"


def test_never_leaving_the_recipient_network_gives_no_origin() -> None:
    chain = [
        postfix("a.recipient.example", "a.recipient.example", "10.0.0.1", "mbox.recipient.example"),
        postfix("webmail", "localhost", "127.0.0.1", "a.recipient.example"),
    ]
    origin = find_origin(chain, OUR_RELAYS)
    nothing = "no hop from outside the recipient's network: the origin cannot be told"
    assert origin == Origin(None, None, None, None, None, None, origin.path, (nothing,))


def test_no_headers_no_origin() -> None:
    origin = find_origin([], OUR_RELAYS)
    assert origin.ip is None
    assert origin.warnings == (
        "no hop from outside the recipient's network: the origin cannot be told",
    )


def test_every_decision_is_a_line_of_the_path() -> None:
    origin = find_origin([TOP, RELAY, CUSTOMER, FORGED_ELSEWHERE], OUR_RELAYS)
    assert origin.path == (
        "hop 0 was recorded by mbox.recipient.example, the recipient's own server: the "
        "recipient's organisational domain is recipient.example",
        "hop 0: 192.0.2.44 (rdns mx-in.recipient.example, helo mx-in.recipient.example) handed "
        "to mbox.recipient.example: still inside the recipient's network "
        "(mx-in.recipient.example is in recipient.example)",
        "hop 1: 203.0.113.25 (rdns smtp.example.net, helo smtp.example.net) handed to "
        "mx-in.recipient.example: this is our own relay, so the hop it recorded is believed",
        "hop 2: 198.51.100.201 (rdns p1150-ipoe.example.net, helo jiro-pc, authenticated as "
        "jiro@example.net) handed to our relay smtp.example.net: this sender is the origin",
        "hops below hop 2 are not believed: they were written before the mail reached our relay",
    )


# --- properties --------------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "from ",
        "by ",
        "with ",
        "id ",
        "for ",
        "via ",
        "(",
        ")",
        "[",
        "]",
        ";",
        " ",
        "\n\t",
        "helo=",
        "HELO ",
        "IPv6:",
        "unknown",
        "localhost",
        "127.0.0.1",
        "198.51.100.61",
        "2001:db8::1",
        "::ffff:",
        ":25",
        "@",
        "mx.recipient.example",
        "Authenticated sender: ",
        "Tue, 20 Oct 2026 11:20:04 +0900",
        "-0000",
        "(Exim 4.96)",
        "ESMTPSA",
    ]
)
HEADER_TEXT = st.one_of(st.text(), st.lists(FRAGMENTS | st.text(max_size=4)).map("".join))
NAMES = st.sampled_from(
    "mx-in.recipient.example mbox.recipient.example smtp.example.net localhost server jiro-pc "
    "unknown mail.kato-home.example [192.0.2.1]".split()
)
ADDRESSES = st.one_of(
    st.sampled_from(
        "192.0.2.44 203.0.113.25 203.0.113.26 127.0.0.1 10.0.0.1 198.51.100.61 ::1 "
        "IPv6:2001:db8::5 garbage".split()
    ),
    st.ip_addresses().map(str),
)
TEMPLATES = st.sampled_from(
    [
        "from {helo} ({rdns} [{ip}]) by {by} (Postfix) with ESMTP id 1; " + WHEN,
        "from [{ip}] (helo={helo}) by {by} with esmtp (Exim 4.96) id 2; " + WHEN,
        "from {rdns} (HELO {helo}) ({ip}) by {by} with SMTP; 20 Oct 2026 02:00:00 -0000",
        "from {helo} ({ip}) by {by} ({ip}) with Microsoft SMTP Server id 15; " + WHEN,
        "from {helo} ([{ip}]) by {by} with ESMTPA; " + WHEN,
        "by {by} (Postfix, from userid 1002) id 3; " + WHEN,
    ]
)


@st.composite
def headers(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(HEADER_TEXT)
    return draw(TEMPLATES).format(
        helo=draw(NAMES), rdns=draw(NAMES), by=draw(NAMES), ip=draw(ADDRESSES)
    )


@given(HEADER_TEXT)
@settings(max_examples=500)
def test_parse_received_never_raises(value: str) -> None:
    hop = parse_received(value)
    assert hop.received_at is None or hop.received_at.tzinfo is not None


@given(
    st.lists(headers(), max_size=8),
    st.sets(ADDRESSES, max_size=3),
    st.sets(NAMES | st.text(max_size=12), max_size=2),
)
@settings(max_examples=500)
def test_origin_is_always_a_recorded_sender(
    received: list[str], relays: set[str], domains: set[str]
) -> None:
    origin = find_origin(received, relays, domains)
    assert origin.path or origin.warnings
    if origin.ip is None:
        assert origin.hop_index is None and origin.observed_at is None
        return
    assert origin.ip in {parse_received(value).from_ip for value in received}
    assert origin.hop_index is not None
    assert parse_received(received[origin.hop_index]).from_ip == origin.ip
