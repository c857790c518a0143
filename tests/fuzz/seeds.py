"""Valid documents of every fuzzed format: where the mutations of the hypothesis tests start,
and the seed corpus of the coverage-guided harness (bench/fuzz/run.py).

Read from the tests' own fixtures (``tests.conftest``'s constants) or built here for the formats
the fixtures lack (X-ARF 0.2 as blocklist.de sends it, XARF JSON as a file, zipped Shadowserver
attachments, the three web forms, feeds and access logs). Small on purpose: a fuzzer mutates
them, so each should be short and exercise one format's whole path.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from functools import cache
from urllib.parse import urlencode

from tests.conftest import COMPLAINTS, EXAMPLENET, FIXTURES
from trustdesk.intake.forwarded import forwarded_spams
from trustdesk.intake.mail import parse_mail, raw_headers

SHADOWSERVER_CSV = "2026-10-20-scan_telnet-asn-jp.csv"


def _fixture(name: str) -> bytes:
    return (COMPLAINTS / name).read_bytes()


def _zip(name: str, content: bytes, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def mail_with_attachment(name: str, media_type: str, content: bytes) -> bytes:
    """A plain complaint mail carrying one base64 attachment (Shadowserver's and XARF's way)."""
    encoded = base64.encodebytes(content).decode("ascii")
    return (
        "From: Shadowserver <autoreports@shadowserver.example>\n"
        "To: abuse@example.net\nSubject: report\nDate: Tue, 20 Oct 2026 12:00:00 +0000\n"
        "Message-ID: <fuzz-seed@shadowserver.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain\n\nThe report is attached.\n\n"
        f'--b1\nContent-Type: {media_type}; name="{name}"\n'
        f'Content-Disposition: attachment; filename="{name}"\n'
        f"Content-Transfer-Encoding: base64\n\n{encoded}--b1--\n"
    ).encode()


XARF02 = b"""From: Reports <reports@blocklist.example>
To: abuse@example.net
Subject: [X-ARF] regbot 198.51.100.45
X-XARF: PLAIN
Date: Tue, 20 Oct 2026 12:30:00 +0900
Message-ID: <xarf02-seed@blocklist.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain

Dear abuse team.

--x
Content-Type: text/plain; charset=utf-8; name="report.txt"

---
Reported-From: abuse-team@blocklist.example
Category: abuse
Report-Type: regbot
Version: 0.2
Date: Tue, 20 Oct 2026 03:12:00 +0000
Source-Type: ip-address
Source: 198.51.100.45
Port: 80
Schema-URL: http://www.x-arf.org/schema/abuse_login-attack_0.1.2.json

--x
Content-Type: text/plain; name=logfile.log

198.51.100.45 - - [20/Oct/2026:03:12:00 +0000] "POST /register HTTP/1.1" 200 10
--x--
"""

XARF4 = {
    "Version": "4",
    "ReporterInfo": {
        "ReporterOrg": "ExpertSpamReporter",
        "ReporterOrgDomain": "expertspamreporter.example",
        "ReporterOrgEmail": "reports@expertspamreporter.example",
        "ReporterContactEmail": "contact@expertspamreporter.example",
        "ReporterContactName": "Mr. Example",
        "ReporterContactPhone": "+ 01 000 1234567",
    },
    "Disclosure": True,
    "Report": {
        "ReportClass": "Activity",
        "ReportType": "LoginAttack",
        "Date": "2026-10-20T03:12:00Z",
        "SourceIp": "198.51.100.45",
        "SourcePort": 51234,
        "DestinationIp": "192.0.2.10",
        "DestinationPort": 22,
        "ReportID": "xarf4-seed-1",
        "Samples": [{"ContentType": "text/plain", "Base64Encoded": False, "Payload": "log"}],
    },
}

SPAM_FORM_MESSAGE = (
    "Received: from spam-pc (unknown [198.51.100.61])\n"
    " by mx.victim.example with ESMTP id 1; Tue, 20 Oct 2026 09:00:00 +0900\n"
    "From: <promo@spam.example>\nSubject: offer\nDate: Tue, 20 Oct 2026 08:59:00 +0900\n\n"
    "Buy now.\n"
)
REPORTER = {"name": "山田 花子", "email": "hanako@victim.example"}
SPAM_FORM = {
    "kind": "spam",
    "reporter": REPORTER,
    "message": SPAM_FORM_MESSAGE,
    "comment": "毎日届きます",
    "submitted_at": "2026-10-20T15:00:00+09:00",
}
ABUSE_FORM = {
    "kind": "abuse",
    "reporter": REPORTER,
    "ip": "198.51.100.45",
    "occurred_at": "2026-10-20T09:30+09:00",
    "category": "unauthorized_access",
    "details": "SSH への総当たり攻撃",
    "logs": "sshd: Failed password for root from 198.51.100.45",
}

# The public forms' fields as a browser posts them (application/x-www-form-urlencoded), each
# with the form it belongs to under "form_kind" (see targets.public_form).
TAKEDOWN_FIELDS = {
    "form_kind": "takedown",
    "requester_name": "小林 誠",
    "requester_address": "東京都千代田区千代田1-1",
    "requester_email": "kobayashi@claimant.example",
    "requester_phone": "03-0000-0000",
    "url": "https://blog.sample.example.jp/review/123",
    "information": "「小林誠は詐欺師だ」という書き込み",
    "infringed_right": "defamation",
    "reason": "虚偽の事実により社会的評価が低下した",
    "disclose_name_to_sender": "no",
    "asked_site_admin_first": "yes",
}
SPAM_FIELDS = {
    "form_kind": "spam",
    "reporter_name": "山田 花子",
    "reporter_email": "hanako@victim.example",
    "message": SPAM_FORM_MESSAGE,
    "comment": "毎日届きます",
}
ABUSE_FIELDS = {
    "form_kind": "abuse",
    "reporter_email": "hanako@victim.example",
    "ip": "198.51.100.45",
    "occurred_at": "2026-10-20T09:30",
    "category": "other",
    "category_other": "phishing",
    "details": "偽のログインページ",
}


@cache
def mails() -> tuple[bytes, ...]:
    """Forwarded spam (direct and through a smarthost), ARF and X-ARF mails."""
    names = ("static_direct.eml", "smarthost_dynamic.eml", "arf_cgnat_port.eml")
    return (*(_fixture(name) for name in names), _fixture("xarf_login_attack.eml"), XARF02)


@cache
def xarf_documents() -> tuple[bytes, ...]:
    """XARF JSON as a file and attached to a mail."""
    document = json.dumps(XARF4, indent=1).encode()
    attached = mail_with_attachment("report.json", "application/json", document)
    return (document, attached)


@cache
def shadowserver_files() -> tuple[bytes, ...]:
    """The Shadowserver CSV bare, zipped, and attached to a mail plain and zipped."""
    data = _fixture(SHADOWSERVER_CSV)
    zipped = _zip(SHADOWSERVER_CSV, data)
    return (
        data,
        zipped,
        _zip(SHADOWSERVER_CSV, data, zipfile.ZIP_STORED),
        mail_with_attachment(SHADOWSERVER_CSV, "text/csv", data),
        mail_with_attachment(SHADOWSERVER_CSV + ".zip", "application/zip", zipped),
    )


@cache
def form_documents() -> tuple[bytes, ...]:
    """The JSON complaints the API and the public forms hand to intake."""
    takedown = _fixture("takedown_request.json")
    others = (json.dumps(form, ensure_ascii=False).encode() for form in (SPAM_FORM, ABUSE_FORM))
    return (takedown, *others)


@cache
def form_posts() -> tuple[bytes, ...]:
    return tuple(
        urlencode(fields).encode() for fields in (TAKEDOWN_FIELDS, SPAM_FIELDS, ABUSE_FIELDS)
    )


@cache
def uploads() -> tuple[bytes, ...]:
    """Files a public form takes, each led by its name and a NUL (targets.upload)."""
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
    return (
        b"request.pdf\x00" + pdf,
        b"seal.png\x00" + png,
        b"scan.jpg\x00" + jpeg,
        b"spam.eml\x00" + _fixture("static_direct.eml"),
    )


@cache
def received_chains() -> tuple[bytes, ...]:
    """Received header values, one per line (topmost first), of the fixtures' forwarded spam."""
    chains = []
    for name in ("static_direct.eml", "smarthost_dynamic.eml"):
        for spam in forwarded_spams(parse_mail(_fixture(name))):
            chains.append("\n".join(raw_headers(spam, "Received")).encode())
    return tuple(chains)


@cache
def registry_files() -> tuple[bytes, ...]:
    names = ("subscribers.csv", "assignments.csv", "sites.csv")
    return tuple((EXAMPLENET / name).read_bytes() for name in names)


@cache
def radius_details() -> tuple[bytes, ...]:
    return ((EXAMPLENET / "radius.detail").read_bytes(),)


@cache
def cgnat_logs() -> tuple[bytes, ...]:
    rfc5424 = (
        b"<134>1 2026-10-20T08:00:00.123+09:00 cgn2 jservices - - - "
        b"JSERVICES_NAT_PORT_BLOCK_ACTIVE: 100.64.2.12 -> [203.0.113.141]:1024-1535 0x1\n"
    )
    return ((EXAMPLENET / "cgnat.log").read_bytes(), rfc5424)


@cache
def cc_feeds() -> tuple[bytes, ...]:
    return (
        b"# C2 list\nevil.example\nhttp://c2.example/gate.php\n*.botnet.example.\n",
        b"0.0.0.0 evil.example other.example # hosts\n127.0.0.1 localhost\n",
        b"first_seen,domain,last_seen,malware\n"
        b"2026-10-19 09:00:00+09:00,evil.example,2026-10-20T00:00:00Z,Emotet\n"
        b'2026-10-19,"c2.example",,"Qakbot, loader"\n',
    )


@cache
def csam_lists() -> tuple[bytes, ...]:
    return (b"csam.example\nhttps://host.example/path/x?y=1\nbad..name\n",)


@cache
def access_logs() -> tuple[bytes, ...]:
    return (
        b'Blog.Example.jp:443 203.0.113.9 - alice [20/Oct/2026:10:00:00 +0900] "GET / '
        b'HTTP/2.0" 200 1000 "https://r/" "x"\n'
        b'203.0.113.9 - - [20/Oct/2026:14:59:59 +0000] "GET /f.iso HTTP/1.1" 200 52 "-" '
        b'"Mozilla/5.0 (X11)"\n',
    )


@cache
def orders() -> tuple[bytes, ...]:
    """The fixture order, and one with the optional fields left out."""
    order = (FIXTURES / "fraud" / "order.json").read_bytes()
    document = json.loads(order)
    for name in ("ip", "device_id", "user_agent", "items"):
        document.pop(name)
    document["buyer"].pop("phone")
    return (order, json.dumps(document, ensure_ascii=False).encode())
