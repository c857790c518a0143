"""trustdesk.intake.parse: every fixture parses, and no bytes make it raise anything but
UnparseableDocument (SPEC §1: bad input gets a clear error and loses nothing)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLENET, REAL_WORLD
from trustdesk.intake import parse as parse_module
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import Report, UnparseableDocument

RELAYS = ("203.0.113.25", "203.0.113.26")
SS = "real-world/shadowserver/"
ROOTS = {"examplenet": EXAMPLENET, "real-world": REAL_WORLD}

# file → (source format, number of reports, source IP of the first report)
EXPECTED: dict[str, tuple[str, int, str | None]] = {
    "examplenet/complaints/2026-10-20-scan_telnet-asn-jp.csv": ("shadowserver", 3, "198.51.100.61"),
    "examplenet/complaints/arf_cgnat_port.eml": ("arf", 1, "203.0.113.140"),
    "examplenet/complaints/smarthost_dynamic.eml": ("forwarded-mail", 1, "198.51.100.201"),
    "examplenet/complaints/static_direct.eml": ("forwarded-mail", 1, "198.51.100.61"),
    "examplenet/complaints/takedown_request.json": ("form", 1, None),
    "examplenet/complaints/xarf_login_attack.eml": ("xarf-0.2", 1, "198.51.100.45"),
    "real-world/blocklistde/regbot-ipv4.eml": ("xarf-0.2", 1, "10.0.2.150"),
    "real-world/blocklistde/regbot-ipv6-uncompressed.eml": (
        "xarf-0.2",
        1,
        "fdf1:cb9d:f59e:19b0::33:4f",
    ),
    **{
        f"real-world/feedback-loop/{name}.eml": ("arf", 1, ip)
        for name, ip in [
            ("aol-scomp", "10.17.40.21"),
            ("aol-scomp-alternative", "10.17.40.22"),
            ("returnpath-comcast", "10.17.41.5"),
            ("returnpath-cox-html", "10.17.41.7"),
            ("returnpath-rackspace-long", "10.17.41.15"),
            ("returnpath-roadrunner-plain", "10.17.41.16"),
            ("returnpath-synacor-foreign", "10.18.19.20"),
            ("returnpath-usanet-nested", "10.17.41.23"),
            ("yahoo", "10.17.42.25"),
            ("zoho-alternative", "10.17.43.29"),
            ("zoho-headers-only", "10.17.43.28"),
        ]
    },
    "real-world/spamexperts/ipv4.eml": ("arf", 1, "172.16.10.13"),
    "real-world/spamexperts/private-192.eml": ("arf", 1, "192.168.1.12"),
    "real-world/spamexperts/ipv6-uncompressed.eml": ("arf", 1, "fdf1:cb9d:f59e:19b0::122"),
    SS + "2026-10-06-scan_afp-jp-ip.csv.zip.eml": ("shadowserver", 2, "127.0.6.59"),
    SS + "2026-10-13-sinkhole_http_drone-asn-jp.csv.zip.eml": ("shadowserver", 4, "192.0.2.11"),
    SS + "2026-10-14-scan_redis-asn-jp.csv.zip.eml": ("shadowserver", 2, "192.0.2.5"),
    SS + "2026-10-15-scan_http-asn-jp.csv.zip.eml": ("shadowserver", 1, "192.0.2.195"),
    SS + "2026-10-15-scan_ldap_tcp-asn-jp.csv.zip.eml": ("shadowserver", 1, "192.0.2.196"),
    SS + "2026-10-15-scan_mssql-asn-jp.csv.zip.eml": ("shadowserver", 2, "192.0.2.98"),
    SS + "2026-10-16-scan_netbios-asn-jp.csv.zip.eml": ("shadowserver", 3, "192.0.2.224"),
    SS + "2026-10-16-scan_ssdp-asn-jp.csv.zip.eml": ("shadowserver", 2, "192.0.2.173"),
    SS + "2026-10-17-scan_ntp-asn-jp.csv.zip.eml": ("shadowserver", 3, "192.0.2.205"),
    SS + "2026-10-18-dns_openresolver-asn-jp.csv.zip.eml": ("shadowserver", 5, "192.0.2.107"),
}


def fixture_path(name: str) -> Path:
    """``examplenet/…`` is in the demo's Example Net, ``real-world/…`` in tests/fixtures."""
    root, _, rest = name.partition("/")
    return ROOTS[root] / rest


ON_DISK = sorted(
    [f"examplenet/complaints/{path.name}" for path in (EXAMPLENET / "complaints").iterdir()]
    + [
        f"real-world/{path.relative_to(REAL_WORLD)}"
        for path in REAL_WORLD.rglob("*")
        if path.is_file() and path.name != "README.md"
    ]
)
FIXTURE_BYTES = [fixture_path(name).read_bytes() for name in ON_DISK]


def check(data: bytes, filename: str | None) -> list[Report]:
    """Parse, and hold every report to the contract other modules rely on."""
    try:
        reports = parse_document(data, filename, RELAYS)
    except UnparseableDocument as exc:
        assert str(exc)
        return []
    assert reports
    for report in reports:
        assert isinstance(report, Report)
        assert report.kind in ("spam", "takedown", "abuse", "vulnerable_device")
        assert report.category and isinstance(report.evidence, str)
        assert report.fingerprint and all(isinstance(p, str) for p in report.fingerprint)
        assert report.observed_at is None or report.observed_at.utcoffset() is not None
        if report.source_ip is not None:
            assert str(ipaddress.ip_address(report.source_ip)) == report.source_ip
        assert report.source_port is None or 0 <= report.source_port <= 65535
        texts = [
            report.evidence,
            report.category,
            *report.warnings,
            *report.fingerprint,
            *(v for v in vars(report.complainant).values() if isinstance(v, str)),
        ]
        # stored as UTF-8 text: no unpaired surrogates anywhere
        "".join(texts).encode("utf-8")
        json.dumps(report.details, default=str, ensure_ascii=False).encode("utf-8")
    return reports


def test_every_fixture_is_in_the_table() -> None:
    assert set(ON_DISK) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_parses(name: str) -> None:
    path = fixture_path(name)
    reports = check(path.read_bytes(), path.name)
    source_format, count, first_ip = EXPECTED[name]
    assert [r.source_format for r in reports] == [source_format] * count
    assert reports[0].source_ip == first_ip
    if first_ip is not None:
        assert all(r.source_ip for r in reports)


def test_fixtures_parse_without_a_file_name() -> None:
    for name, data in zip(ON_DISK, FIXTURE_BYTES, strict=True):
        assert check(data, None), name


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"", "empty.eml", "empty"),
        (b" \r\n\t\n", None, "empty"),
        (b"\xef\xbb\xbf", None, "empty"),
        (bytes(range(256)) * 4, "garbage.bin", "not a format trustdesk reads"),
        (b"hello world\n", "notes.txt", "not a format trustdesk reads"),
        (b"a,b,c\n1,2,3\n", "data.csv", "first column must be 'timestamp'"),
        (b'{"kind": "takedown", "url": "https://x.exa', "t.json", "not valid"),
        (b"[1, 2, 3]", "list.json", "neither an XARF report"),
        (b'{"hello": "world"}', "o.json", "neither an XARF report"),
        (b'{"kind": "\xff"}', "bad.json", "not UTF-8"),
        (b"[" * 100_000, "deep.json", "not valid"),
        (b"From: a@b.example\nSubject: hi\n\nno complaint here\n", "m.eml", "no complaint found"),
        (b"Subject: only a header", "m.eml", "no complaint found"),
    ],
)
def test_unparseable_documents_say_why(data: bytes, filename: str | None, reason: str) -> None:
    with pytest.raises(UnparseableDocument, match=reason):
        parse_document(data, filename, RELAYS)


def test_a_truncated_takedown_form_is_unparseable() -> None:
    data = (EXAMPLENET / "complaints/takedown_request.json").read_bytes()[:120]
    with pytest.raises(UnparseableDocument, match="not valid"):
        parse_document(data, "truncated.json", RELAYS)


def test_a_document_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_module, "MAX_DOCUMENT_BYTES", 1000)
    data = (EXAMPLENET / "complaints/static_direct.eml").read_bytes()
    with pytest.raises(UnparseableDocument, match="over 1000 are refused"):
        parse_document(data, "big.eml", RELAYS)


def test_the_real_limit_is_64_mib() -> None:
    assert parse_module.MAX_DOCUMENT_BYTES == 64 * 1024 * 1024
    with pytest.raises(UnparseableDocument, match="refused"):
        parse_document(b" " * (64 * 1024 * 1024 + 1), None, RELAYS)


FILENAMES = st.sampled_from([None, "x.eml", "x.csv", "x.json", "2026-10-20-scan_telnet-asn.csv"])
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.binary(max_size=4096), FILENAMES)
def test_random_bytes_never_raise_anything_else(data: bytes, filename: str | None) -> None:
    check(data, filename)


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> bytes:
    """A fixture cut short, with bytes flipped, inserted, deleted or repeated."""
    data = bytearray(draw(st.sampled_from(FIXTURE_BYTES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat"]))
        if action == "truncate":
            del data[at:]
        elif action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 500))]
    return bytes(data)


@FUZZ
@given(mutated_fixtures(), FILENAMES)
def test_mutated_and_truncated_fixtures_never_raise_anything_else(
    data: bytes, filename: str | None
) -> None:
    check(data, filename)


@FUZZ
@given(st.sampled_from(FIXTURE_BYTES), st.data())
def test_every_prefix_of_a_fixture_is_handled(data: bytes, draw: st.DataObject) -> None:
    check(data[: draw.draw(st.integers(0, len(data)))], None)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["198.51.100.7", "2026-10-20T09:30", "https://x.example/a", "a@b.example"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
FORM_KEYS = [
    "requester",
    "reporter",
    "url",
    "information",
    "infringed_right",
    "reason",
    "disclose_name_to_sender",
    "documents",
    "submitted_at",
    "message",
    "ip",
    "host",
    "occurred_at",
    "category",
    "details",
    "ReportClass",
    "ReportType",
    "SourceIp",
    "SourceUrl",
    "SourcePort",
    "Date",
    "ReportID",
]


@FUZZ
@given(
    st.dictionaries(st.sampled_from(FORM_KEYS), JSON_VALUES, max_size=8),
    st.sampled_from(["takedown", "spam", "abuse", "Report"]),
)
def test_random_json_documents_never_raise_anything_else(
    fields: dict[str, object], kind: str
) -> None:
    document = {"Report": fields} if kind == "Report" else {**fields, "kind": kind}
    check(json.dumps(document).encode(), "x.json")
