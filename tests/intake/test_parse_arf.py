"""trustdesk.intake.arf: feedback-loop reports (RFC 5965, RFC 6692) as real providers send them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import COMPLAINTS, REAL_WORLD
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import UnparseableDocument
from trustdesk.timeutil import JST

REAL = REAL_WORLD


# Source-IP as each report states it (fixtures real-world/*), normalised by ipaddress.
SOURCE_IP = {
    "feedback-loop/aol-scomp.eml": "10.17.40.21",
    "feedback-loop/aol-scomp-alternative.eml": "10.17.40.22",
    "feedback-loop/returnpath-comcast.eml": "10.17.41.5",
    "feedback-loop/returnpath-cox-html.eml": "10.17.41.7",
    "feedback-loop/returnpath-rackspace-long.eml": "10.17.41.15",
    "feedback-loop/returnpath-roadrunner-plain.eml": "10.17.41.16",
    "feedback-loop/returnpath-synacor-foreign.eml": "10.18.19.20",
    "feedback-loop/returnpath-usanet-nested.eml": "10.17.41.23",
    "feedback-loop/yahoo.eml": "10.17.42.25",
    "feedback-loop/zoho-alternative.eml": "10.17.43.29",
    "feedback-loop/zoho-headers-only.eml": "10.17.43.28",
    "spamexperts/ipv4.eml": "172.16.10.13",
    "spamexperts/private-192.eml": "192.168.1.12",
    "spamexperts/ipv6-uncompressed.eml": "fdf1:cb9d:f59e:19b0::122",
}


def parse(data: bytes) -> list:
    return parse_document(data, "report.eml", ())


def test_every_arf_fixture_is_listed() -> None:
    on_disk = {
        str(path.relative_to(REAL))
        for folder in ("feedback-loop", "spamexperts")
        for path in (REAL / folder).glob("*.eml")
    }
    assert on_disk == set(SOURCE_IP)


@pytest.mark.parametrize("name", sorted(SOURCE_IP))
def test_each_real_feedback_report_is_one_spam_report(name: str) -> None:
    [report] = parse((REAL / name).read_bytes())
    assert report.source_ip == SOURCE_IP[name]
    assert (report.kind, report.category, report.source_format) == ("spam", "abuse", "arf")
    assert report.observed_at is not None and report.observed_at.utcoffset() is not None
    assert report.complainant.organisation == report.complainant.email.rpartition("@")[2]
    assert report.fingerprint[0] == "mail" and report.fingerprint[2] == "0"
    assert report.details["user_agent"]
    assert report.warnings == ()


def test_aol_received_date_is_the_observed_time() -> None:
    """AOL writes the non-standard Received-Date instead of Arrival-Date."""
    [report] = parse((REAL / "feedback-loop/aol-scomp.eml").read_bytes())
    assert report.observed_at == datetime(2026, 10, 19, 9, 12, 22, tzinfo=UTC)
    assert report.details["arrival_date"] == "Mon, 19 Oct 2026 05:12:22 -0400 (EDT)"
    assert report.details["reported_domain"] == ["shop.domain5.tld"]
    assert report.details["spam_message_id"] == "20261019111218.31875@domain6.tld"
    assert report.complainant.email == "scomp@aol.net"
    assert report.complainant.message_id == "20261019091240.3F9C2C2B10F@gw.domain2.tld"


def test_cgnat_fixture_carries_the_rfc6692_source_port() -> None:
    [report] = parse((COMPLAINTS / "arf_cgnat_port.eml").read_bytes())
    assert (report.source_ip, report.source_port) == ("203.0.113.140", 20800)
    assert report.observed_at == datetime(2026, 10, 20, 11, tzinfo=JST)
    assert report.details["original_mail_from"] == "<promo@ken-shop.example>"
    assert report.details["original_rcpt_to"] == ["<someone@bigmail.example>"]
    assert report.details["incidents"] == 1
    assert report.details["spam_subject"] == "Earn money fast"
    assert report.complainant.organisation == "bigmail.example"
    assert report.fingerprint == ("mail", "arf-55120@bigmail.example", "0")


FEEDBACK = """\
Feedback-Type: {feedback_type}
User-Agent: TestFBL/1.0
Version: 1
{fields}"""
REPORTED = """\
Received: from mx.bigmail.example (mx.bigmail.example [192.0.2.10])
 by store.bigmail.example with ESMTP id 1; Tue, 20 Oct 2026 11:00:01 +0900
Received: from ken-pc (ken-pc.example.net [198.51.100.140])
 by mx.bigmail.example with ESMTP id 2; Tue, 20 Oct 2026 11:00:00 +0900
From: <promo@ken-shop.example>
Subject: Earn money fast
Message-ID: <promo-2@ken-shop.example>

Click here.
"""


def arf(
    fields: str = "",
    feedback_type: str = "abuse",
    feedback_label: str = "message/feedback-report",
    reported_label: str = "message/rfc822",
    reported: str = REPORTED,
    blank_first_line: bool = False,
) -> bytes:
    feedback = ("\n" if blank_first_line else "") + FEEDBACK.format(
        feedback_type=feedback_type, fields=fields
    )
    return (
        "From: FBL <fbl@bigmail.example>\nTo: abuse@example.net\nSubject: FW: report\n"
        "Date: Tue, 20 Oct 2026 11:05:00 +0900\nMessage-ID: <arf-1@bigmail.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nAn abuse report.\n\n"
        f"--B\nContent-Type: {feedback_label}\n\n{feedback}\n"
        f"--B\nContent-Type: {reported_label}\n\n{reported}\n--B--\n"
    ).encode()


def test_without_source_ip_the_received_chain_tells_the_source() -> None:
    [report] = parse(arf())
    assert report.source_ip == "198.51.100.140"
    assert report.observed_at == datetime(2026, 10, 20, 11, tzinfo=JST)  # the origin hop
    assert report.details["origin_path"]


def test_reported_headers_only_part_is_read() -> None:
    [report] = parse(arf(reported_label="text/rfc822-headers", reported=REPORTED.split("\n\n")[0]))
    assert report.source_ip == "198.51.100.140"
    assert report.details["spam_message_id"] == "promo-2@ken-shop.example"


@pytest.mark.parametrize("label", ["text/plain", "application/octet-stream; name=report"])
def test_a_mislabelled_feedback_part_is_found(label: str) -> None:
    fields = "Source-IP: 2001:DB8:0:0::7\nArrival-Date: Tue, 20 Oct 2026 02:00:00 +0000\n"
    [report] = parse(arf(fields, feedback_label=label))
    assert report.source_ip == "2001:db8::7"
    assert report.observed_at == datetime(2026, 10, 20, 2, tzinfo=UTC)


def test_a_blank_first_line_in_the_feedback_part_is_tolerated() -> None:
    [report] = parse(arf("Source-IP: 192.0.2.200\n", blank_first_line=True))
    assert report.source_ip == "192.0.2.200"


@pytest.mark.parametrize(
    ("feedback_type", "category"),
    [
        ("abuse", "abuse"),
        ("Fraud", "fraud"),
        ("virus", "virus"),
        ("not-spam", "not-spam"),
        ("auth-failure", "auth-failure"),
        ("other", "other"),
    ],
)
def test_category_is_the_feedback_type(feedback_type: str, category: str) -> None:
    [report] = parse(arf("Source-IP: 192.0.2.200\n", feedback_type=feedback_type))
    assert (report.kind, report.category) == ("spam", category)


def test_missing_feedback_type_is_a_warning() -> None:
    data = arf("Source-IP: 192.0.2.200\n").replace(b"Feedback-Type: abuse\n", b"")
    [report] = parse(data)
    assert report.category == "abuse"
    assert any("no Feedback-Type" in w for w in report.warnings)


def test_bad_source_port_and_source_ip_are_warnings() -> None:
    [report] = parse(arf("Source-IP: XX.YY.ZZ.6\nSource-Port: ٣٣\n"))
    assert report.source_ip == "198.51.100.140"  # from the Received chain instead
    assert report.source_port is None
    assert any("Source-IP 'XX.YY.ZZ.6'" in w for w in report.warnings)
    assert any("Source-Port" in w for w in report.warnings)


def test_without_arrival_date_or_received_times_the_report_date_is_used() -> None:
    reported = "From: <promo@ken-shop.example>\nSubject: x\n\nbody\n"
    [report] = parse(arf("Source-IP: 192.0.2.200\n", reported=reported))
    assert report.observed_at == datetime(2026, 10, 20, 11, 5, tzinfo=JST)


def test_no_source_ip_and_no_received_chain_is_unparseable() -> None:
    reported = "From: <promo@ken-shop.example>\nSubject: x\n\nbody\n"
    with pytest.raises(UnparseableDocument, match="no Source-IP"):
        parse(arf(reported=reported))
