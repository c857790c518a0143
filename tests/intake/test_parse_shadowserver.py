"""trustdesk.intake.shadowserver: one report per CSV row, as a file or mailed (seed 002 §22-1)."""

from __future__ import annotations

import base64
import csv
import email
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import COMPLAINTS, REAL_WORLD
from trustdesk.intake import shadowserver
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import UnparseableDocument

TELNET = COMPLAINTS / "2026-10-20-scan_telnet-asn-jp.csv"
MAILED = sorted((REAL_WORLD / "shadowserver").glob("*.eml"))
HEADER = '"timestamp","ip","protocol","port","hostname","tag","src_port"\n'


def parse(data: bytes, filename: str | None = "feed.csv") -> list:
    return parse_document(data, filename, ())


def attached_csv(path: Path) -> tuple[str, str]:
    """The CSV inside a mailed fixture, read independently of the parser (the test's oracle)."""
    msg = email.message_from_bytes(path.read_bytes())
    for part in msg.walk():
        payload = part.get_payload(decode=True)
        if part.get_filename() and isinstance(payload, bytes):
            archive = zipfile.ZipFile(io.BytesIO(payload))
            [member] = archive.namelist()
            return member, archive.read(member).decode()
    raise AssertionError(f"{path.name} has no attachment")


def mail_with(*files: tuple[str, bytes], message_id: str = "<ss-1@shadowserver.example>") -> bytes:
    """A Shadowserver-style mail with each (file name, content) attached in base64."""
    parts = "".join(
        f"--s\nContent-Type: application/octet-stream; name={name}\n"
        f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; "
        f"filename={name}\n\n{base64.encodebytes(content).decode()}\n"
        for name, content in files
    )
    return (
        f"From: Shadowserver <autoreports@shadowserver.example>\nMessage-ID: {message_id}\n"
        "Subject: report\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="s"\n\n--s\nContent-Type: text/plain\n\nhi\n'
        f"{parts}--s--\n"
    ).encode()


def zipped(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def test_examplenet_telnet_scan() -> None:
    reports = parse(TELNET.read_bytes(), TELNET.name)
    assert [(r.source_ip, r.source_port) for r in reports] == [
        ("198.51.100.61", 23),
        ("198.51.100.201", 23),
        ("192.0.2.99", 23),
    ]
    first = reports[0]
    assert (first.kind, first.category, first.source_format) == (
        "vulnerable_device",
        "scan_telnet",
        "shadowserver",
    )
    assert first.observed_at == datetime(2026, 10, 20, 0, 35, 12, tzinfo=UTC)
    assert first.fingerprint == (
        "shadowserver",
        "scan_telnet",
        "198.51.100.61",
        "23",
        "2026-10-20T00:35:12+00:00",
    )
    lines = TELNET.read_text().splitlines(keepends=True)
    assert first.evidence == lines[0] + lines[1]
    assert first.complainant.organisation == "Shadowserver"
    assert first.details["banner"] == "BusyBox v1.19 login:"
    assert "hostname" not in first.details  # empty cells are left out


@pytest.mark.parametrize("path", MAILED, ids=[p.name for p in MAILED])
def test_every_mailed_shadowserver_report_gives_every_row(path: Path) -> None:
    member, text = attached_csv(path)
    rows = [row for row in csv.DictReader(io.StringIO(text)) if any(row.values())]
    reports = parse(path.read_bytes(), path.name)
    assert [r.source_ip for r in reports] == [row["ip"] for row in rows]
    assert all(r.category == shadowserver.report_type_of(member) for r in reports)
    assert all(r.warnings == () for r in reports)
    assert reports[0].complainant.organisation == "Shadowserver"
    assert reports[0].complainant.email == "autoreports@shadowserver.org"


def test_the_mailed_samples_cover_ten_report_types() -> None:
    assert len({shadowserver.report_type_of(attached_csv(path)[0]) for path in MAILED}) == 10


def test_sinkhole_drones_are_abuse_and_use_the_source_port() -> None:
    path = REAL_WORLD / "shadowserver/2026-10-13-sinkhole_http_drone-asn-jp.csv.zip.eml"
    first = parse(path.read_bytes())[0]
    assert (first.kind, first.source_ip, first.source_port) == ("abuse", "192.0.2.11", 8726)


@pytest.mark.parametrize(
    ("name", "report_type"),
    [
        ("2026-10-20-scan_telnet-asn-jp.csv", "scan_telnet"),
        ("/tmp/2026-10-13-sinkhole_http_drone-asn-jp.csv.zip", "sinkhole_http_drone"),
        ("2026-10-15-scan_ldap_tcp-asn-jp.csv", "scan_ldap_tcp"),
        ("report.csv", None),
        (None, None),
    ],
)
def test_report_type_comes_from_the_file_name(name: str | None, report_type: str | None) -> None:
    assert shadowserver.report_type_of(name) == report_type


@pytest.mark.parametrize(
    ("report_type", "kind", "known"),
    [
        ("scan_telnet", "vulnerable_device", True),
        ("dns_openresolver", "vulnerable_device", True),
        ("accessible_rdp", "vulnerable_device", True),
        ("vulnerable_exchange", "vulnerable_device", True),
        ("sinkhole_http_drone", "abuse", True),
        ("botnet_drone", "abuse", True),
        ("compromised_website", "abuse", True),
        ("malware_url", "abuse", True),
        ("weird_thing", "vulnerable_device", False),
    ],
)
def test_kind_of(report_type: str, kind: str, known: bool) -> None:
    assert shadowserver.kind_of(report_type) == (kind, known)


def test_the_same_row_in_a_file_and_in_a_mail_has_one_fingerprint() -> None:
    data = TELNET.read_bytes()
    from_file = parse(data, TELNET.name)
    from_zip_mail = parse(mail_with((TELNET.name + ".zip", zipped(TELNET.name, data))))
    from_csv_mail = parse(mail_with((TELNET.name, data)), None)
    from_bare_zip = parse(zipped(TELNET.name, data), TELNET.name + ".zip")
    expected = [r.fingerprint for r in from_file]
    for other in (from_zip_mail, from_csv_mail, from_bare_zip):
        assert [r.fingerprint for r in other] == expected
    assert from_zip_mail[0].complainant.message_id == "ss-1@shadowserver.example"


def test_bad_rows_are_skipped_and_named_on_the_first_report() -> None:
    text = (
        HEADER
        + '"2026-10-20 00:00:01","198.51.100.1","tcp",23,"","telnet",\n'
        + '"not a time","198.51.100.2","tcp",23,"","telnet",\n'
        + '"2026-10-20 00:00:03","XX.YY.ZZ.6","tcp",23,"","telnet",\n'
        + "\n"
        + '"2026-10-20T00:00:04Z","2001:DB8::4","tcp",23,"","telnet",40000\n'
    )
    reports = parse(text.encode(), "2026-10-20-scan_telnet-asn.csv")
    assert [(r.source_ip, r.source_port) for r in reports] == [
        ("198.51.100.1", 23),
        ("2001:db8::4", 40000),
    ]
    assert reports[0].warnings == (
        "2026-10-20-scan_telnet-asn.csv: line 3: bad timestamp 'not a time'",
        "2026-10-20-scan_telnet-asn.csv: line 4: bad IP address 'XX.YY.ZZ.6'",
    )
    assert reports[1].warnings == ()


def test_no_good_row_is_unparseable() -> None:
    text = HEADER + '"never","198.51.100.1","tcp",23,"","telnet",\n'
    with pytest.raises(UnparseableDocument, match="no readable row.*bad timestamp"):
        parse(text.encode())


def test_a_header_only_csv_is_unparseable() -> None:
    with pytest.raises(UnparseableDocument, match="no data rows"):
        parse(HEADER.encode())


def test_without_a_dated_name_the_tag_column_names_the_report() -> None:
    text = HEADER + '"2026-10-20 00:00:01","198.51.100.1","tcp",23,"","Telnet",\n'
    [report] = parse(text.encode(), "download.csv")
    assert report.category == "telnet"
    assert report.warnings == ("unknown Shadowserver report type 'telnet'",)


def test_a_truncated_csv_keeps_its_complete_rows() -> None:
    data = TELNET.read_bytes()
    cut = data[: data.index(b"192.0.2.99") + 4]
    reports = parse(cut, TELNET.name)
    assert [r.source_ip for r in reports] == ["198.51.100.61", "198.51.100.201"]
    assert "bad IP address '192.'" in reports[0].warnings[0]


def test_a_huge_csv() -> None:
    rows = "".join(
        f'"2026-10-20 00:{i // 3600 % 60:02d}:{i % 60:02d}","10.{i >> 16 & 255}.{i >> 8 & 255}.'
        f'{i & 255}","tcp",23,"","telnet",\n'
        for i in range(100_000)
    )
    reports = parse((HEADER + rows).encode(), "2026-10-20-scan_telnet-asn.csv")
    assert len(reports) == 100_000
    assert reports[-1].source_ip == "10.1.134.159"
    assert len({r.fingerprint for r in reports}) == 100_000


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("2026-10-20-scan_telnet-asn.csv", "w", force_zip64=True) as member,
    ):
        member.write(HEADER.encode())
        zeros = bytes(1 << 24)
        for _ in range(17):  # 272 MiB of zeros, a few hundred KiB zipped
            member.write(zeros)
    bomb = buffer.getvalue()
    assert len(bomb) < 2 << 20
    with pytest.raises(UnparseableDocument, match="zip bomb"):
        parse(mail_with(("bomb.csv.zip", bomb)))


def test_a_member_larger_than_it_claims_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shadowserver, "MAX_INFLATED_BYTES", 1000)
    data = zipped("2026-10-20-scan_telnet-asn.csv", TELNET.read_bytes() * 5)
    with pytest.raises(UnparseableDocument, match="zip bomb"):
        parse(data, "x.csv.zip")


def test_the_inflation_limit_counts_every_attachment_of_a_mail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = TELNET.read_bytes()
    monkeypatch.setattr(shadowserver, "MAX_INFLATED_BYTES", len(data) * 3 // 2)
    one = zipped(TELNET.name, data)
    assert len(parse(mail_with(("a.csv.zip", one)))) == 3
    with pytest.raises(UnparseableDocument, match="zip bomb"):
        parse(mail_with(("a.csv.zip", one), ("b.csv.zip", one)))


def test_a_corrupt_zip_is_unparseable() -> None:
    data = zipped(TELNET.name, TELNET.read_bytes())
    with pytest.raises(UnparseableDocument, match="zip archive"):
        parse(mail_with(("x.csv.zip", data[: len(data) // 2])))


def test_a_zip_without_a_shadowserver_csv_is_unparseable() -> None:
    with pytest.raises(UnparseableDocument, match="no Shadowserver CSV"):
        parse(zipped("notes.txt", b"hello"), "x.zip")
