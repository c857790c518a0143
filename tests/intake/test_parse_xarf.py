"""trustdesk.intake.xarf: X-ARF 0.2 mails and XARF JSON reports (abusix/xarf schema)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import COMPLAINTS, REAL_WORLD
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import UnparseableDocument


def parse(data: bytes, filename: str = "report.eml") -> list:
    return parse_document(data, filename, ())


# --- X-ARF 0.2 ----------------------------------------------------------------------------------


def test_login_attack_fixture() -> None:
    [report] = parse((COMPLAINTS / "xarf_login_attack.eml").read_bytes())
    assert (report.kind, report.category, report.source_format) == (
        "abuse",
        "login-attack",
        "xarf-0.2",
    )
    assert report.source_ip == "198.51.100.45"
    assert report.source_port is None  # Port is the attacked service's port, not the source's
    assert report.details["destination_port"] == 22
    assert report.details["service"] == "ssh"
    assert report.details["report_id"] == "2d6a3c1e-7781@blocklist.example"
    assert report.observed_at == datetime(2026, 10, 20, 3, 12, tzinfo=UTC)
    assert "Failed password for root from 198.51.100.45" in report.evidence  # the log part
    assert report.complainant.organisation == "blocklist.example"
    assert report.complainant.message_id == "xarf-7781@blocklist.example"
    assert report.fingerprint == ("mail", "xarf-7781@blocklist.example", "0")


@pytest.mark.parametrize(
    ("name", "ip"),
    [
        ("regbot-ipv4.eml", "10.0.2.150"),
        ("regbot-ipv6-uncompressed.eml", "fdf1:cb9d:f59e:19b0::33:4f"),
    ],
)
def test_blocklist_de_fixtures(name: str, ip: str) -> None:
    """X-XARF: PLAIN, YAML starting with ---, Source-Type ip-address, Port 80."""
    [report] = parse((REAL_WORLD / "blocklistde" / name).read_bytes())
    assert (report.kind, report.category, report.source_ip) == ("abuse", "regbot", ip)
    assert report.details["destination_port"] == 80
    assert report.details["reported_from"] == "abuse-team@blocklist.de"
    assert report.observed_at == datetime(2026, 10, 20, 5, 19, 2, tzinfo=UTC)


REPORT_TXT = """\
---
Reported-From: reports@blocklist.example
Category: {category}
Report-Type: {report_type}
Version: 0.2
Date: {date}
Source-Type: {source_type}
Source: {source}
Port: 443
"""


def xarf02(
    category: str = "abuse",
    report_type: str = "login-attack",
    source_type: str = "ipv4",
    source: str = "198.51.100.45",
    date: str = "Tue, 20 Oct 2026 03:12:00 +0000",
    marker: str = "X-ARF: YES",
    report_txt: str | None = None,
    name: str = "report.txt",
) -> bytes:
    text = report_txt or REPORT_TXT.format(
        category=category,
        report_type=report_type,
        source_type=source_type,
        source=source,
        date=date,
    )
    return (
        f"From: Reports <reports@blocklist.example>\nSubject: x\n{marker}\n"
        "Date: Tue, 20 Oct 2026 12:30:00 +0900\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="x"\n\n'
        "--x\nContent-Type: text/plain\n\nDear abuse team.\n\n"
        f'--x\nContent-Type: text/plain; charset=utf-8; name="{name}"\n\n{text}\n'
        "--x\nContent-Type: text/plain; name=logfile.log\n\nlog line\n--x--\n"
    ).encode()


@pytest.mark.parametrize(
    ("category", "report_type", "kind"),
    [
        ("abuse", "login-attack", "abuse"),
        ("abuse", "spam", "spam"),
        ("abuse", "Spam-Trap", "spam"),
        ("fraud", "phishing", "abuse"),
        ("info", "open-proxy", "vulnerable_device"),
        ("vulnerability", "ddos-amplifier", "vulnerable_device"),
        ("private", "something", "abuse"),
    ],
)
def test_xarf02_kinds(category: str, report_type: str, kind: str) -> None:
    [report] = parse(xarf02(category, report_type))
    assert (report.kind, report.category) == (kind, report_type.lower())


def test_x_xarf_plain_marker_and_second_part_without_a_name() -> None:
    [report] = parse(xarf02(marker="X-XARF: PLAIN", name="unnamed.txt"))
    assert report.source_ip == "198.51.100.45"


def test_uri_source_sets_url_and_domain() -> None:
    [report] = parse(
        xarf02("fraud", "phishing", source_type="uri", source="http://Phish.Example.org/login")
    )
    assert report.url == "http://Phish.Example.org/login"
    assert report.domain == "phish.example.org"
    assert report.source_ip is None


def test_an_ipv6_that_yaml_would_read_as_a_number_stays_an_address() -> None:
    """yaml.safe_load reads 2001:0:0:0:0:0:0:1 as a base-60 integer."""
    [report] = parse(xarf02(source_type="ipv6", source="2001:0:0:0:0:0:0:1"))
    assert report.source_ip == "2001::1"


def test_bad_yaml_falls_back_to_key_value_lines() -> None:
    text = (
        REPORT_TXT.format(
            category="abuse",
            report_type="login-attack",
            source_type="ipv4",
            source="198.51.100.46",
            date="Tue, 20 Oct 2026 03:12:00 +0000",
        )
        + "User-Agent: tool: v1: [broken\n"
    )
    [report] = parse(xarf02(report_txt=text))
    assert report.source_ip == "198.51.100.46"


def test_an_unreadable_date_is_a_warning_and_the_mail_date_is_used() -> None:
    [report] = parse(xarf02(date="sometime"))
    assert report.observed_at == datetime(2026, 10, 20, 3, 30, tzinfo=UTC)
    assert any("Date 'sometime'" in w for w in report.warnings)


def test_a_source_that_is_neither_ip_nor_url_is_unparseable() -> None:
    with pytest.raises(UnparseableDocument, match="no IP address or URL"):
        parse(xarf02(source="XX.YY.ZZ.6"))


# --- XARF JSON ----------------------------------------------------------------------------------

REPORTER = {
    "ReporterOrg": "ExampleOrg",
    "ReporterOrgDomain": "example.com",
    "ReporterOrgEmail": "reports@example.com",
    "ReporterContactEmail": "contact@example.com",
    "ReporterContactName": "Mr. Example",
    "ReporterContactPhone": "+ 01 000 1234567",
}


def xarf_json(report: dict[str, Any], **top: Any) -> dict[str, Any]:
    base = {
        "ReportClass": "Activity",
        "ReportType": "LoginAttack",
        "Date": "2018-02-05T14:17:10Z",
        "SourceIp": "192.0.2.55",
        "SourcePort": 54321,
        "DestinationIp": "198.51.100.33",
        "DestinationPort": 22,
        "Samples": [{"ContentType": "text/plain", "Payload": "sshd: failed login"}],
    }
    return {
        "Version": "2",
        "ReporterInfo": REPORTER,
        "Disclosure": True,
        "Report": {**base, **report},
        **top,
    }


def as_file(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()


def test_xarf_json_file() -> None:
    data = as_file(xarf_json({}))
    [report] = parse(data, "report.json")
    assert (report.kind, report.category, report.source_format) == (
        "abuse",
        "LoginAttack",
        "xarf-4",
    )
    assert (report.source_ip, report.source_port) == ("192.0.2.55", 54321)
    assert report.observed_at == datetime(2018, 2, 5, 14, 17, 10, tzinfo=UTC)
    assert report.evidence == data.decode()
    assert report.details["destination_ip"] == "198.51.100.33"
    assert report.details["destination_port"] == 22
    assert "samples" not in report.details
    who = report.complainant
    assert (who.organisation, who.email, who.name, who.phone) == (
        "ExampleOrg",
        "contact@example.com",
        "Mr. Example",
        "+ 01 000 1234567",
    )
    assert who.consents_to_disclosure is True


@pytest.mark.parametrize(
    ("report_class", "report_type", "kind"),
    [
        ("Vulnerability", "OpenService", "vulnerable_device"),
        ("Activity", "Spam", "spam"),
        ("Message", "Bulk", "spam"),
        ("Content", "Copyright", "takedown"),
        ("Content", "Trademark", "takedown"),
        ("Content", "Phishing", "abuse"),
        ("Activity", "Ddos", "abuse"),
        ("Activity", "Botnet", "abuse"),
    ],
)
def test_xarf_json_kinds(report_class: str, report_type: str, kind: str) -> None:
    report = {"ReportClass": report_class, "ReportType": report_type}
    [found] = parse(as_file(xarf_json(report)), "r.json")
    assert (found.kind, found.category) == (kind, report_type)


def test_copyright_report_names_the_infringing_url() -> None:
    report = {
        "ReportClass": "Content",
        "ReportType": "Copyright",
        "SourceIp": None,
        "InfringingUrl": "http://www.badexample.com/song.mp3",
    }
    [found] = parse(as_file(xarf_json(report)), "r.json")
    assert (found.kind, found.url, found.domain) == (
        "takedown",
        "http://www.badexample.com/song.mp3",
        "www.badexample.com",
    )


def test_xarf_json_fingerprints() -> None:
    with_id = xarf_json({"ReportID": "abc-123"})
    with_case = xarf_json({"ReporterCaseID": "CASE-9"})
    plain = xarf_json({})
    [a] = parse(as_file(with_id), "a.json")
    [b] = parse(as_file(with_case), "b.json")
    [c] = parse(as_file(plain), "c.json")
    [c_again] = parse(json.dumps(plain, separators=(",", ":")).encode(), "c2.json")
    assert a.fingerprint == ("xarf4", "abc-123")
    assert b.fingerprint == ("xarf4", "example.com", "CASE-9")
    assert c.fingerprint[0] == "xarf4" and c.fingerprint == c_again.fingerprint


def test_xarf_json_attached_to_a_mail() -> None:
    """The abusix/xarf README's SMTP transport: Feedback-Type xarf and a JSON attachment."""
    payload = base64.encodebytes(as_file(xarf_json({"ReportType": "Spam"}))).decode()
    data = (
        "From: Abusix <noreply@abusix.example>\nMessage-ID: <x-1@abusix.example>\n"
        "Date: Tue, 21 Apr 2020 10:25:47 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="P"\n\n'
        "--P\nContent-Type: text/plain\n\nhuman readable\n"
        "--P\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: xarf\nUser-Agent: Abusix/1.0\nVersion: 1\n"
        "--P\nContent-Type: application/json; name=xarf.json\nContent-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment; filename=xarf.json\n\n{payload}\n--P--\n"
    ).encode()
    [report] = parse(data)
    assert (report.source_format, report.kind, report.source_ip) == ("xarf-4", "spam", "192.0.2.55")
    assert report.complainant.message_id == "x-1@abusix.example"
    assert '"ReportType": "Spam"' in report.evidence


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        ({"ReportType": None}, "no ReportType"),
        ({"SourceIp": "not-an-ip"}, "no valid SourceIp"),
        ({"SourceIp": 12345}, "no valid SourceIp"),
    ],
)
def test_unusable_xarf_json_is_unparseable(report: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnparseableDocument, match=reason):
        parse(as_file(xarf_json(report)), "r.json")


def test_a_naive_xarf_date_is_not_guessed() -> None:
    [report] = parse(as_file(xarf_json({"Date": "2018-02-05T14:17:10"})), "r.json")
    assert report.observed_at is None
    assert any("offset" in w for w in report.warnings)
