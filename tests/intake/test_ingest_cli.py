"""``trustdesk ingest`` end to end: store, parse, attribute, deduplicate (SPEC §1, §2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, REAL_WORLD, json_lines
from trustdesk.db import unit_of_work
from trustdesk.intake.models import ComplainantIdentity, Complaint, Document
from trustdesk.intake.service import store_document
from trustdesk.privacy.models import AuditEntry

Run = Callable[..., Any]

EXPECTED = {
    "static_direct.eml": [("spam", "198.51.100.61", None, "2026-10-20T11:20:04+09:00", "C2001")],
    "smarthost_dynamic.eml": [
        ("spam", "198.51.100.201", None, "2026-10-20T09:30:07+09:00", "C2002")
    ],
    "arf_cgnat_port.eml": [("spam", "203.0.113.140", 20800, "2026-10-20T11:00:00+09:00", "C2006")],
    "xarf_login_attack.eml": [
        ("abuse", "198.51.100.45", None, "2026-10-20T12:12:00+09:00", "C2003")
    ],
    "takedown_request.json": [
        ("takedown", "203.0.113.40", None, "2026-10-20T15:00:00+09:00", "C2003")
    ],
    "2026-10-20-scan_telnet-asn-jp.csv": [
        ("vulnerable_device", "198.51.100.61", 23, "2026-10-20T09:35:12+09:00", "C2001"),
        ("vulnerable_device", "198.51.100.201", 23, "2026-10-20T09:35:40+09:00", "C2002"),
        ("vulnerable_device", "192.0.2.99", 23, "2026-10-20T09:36:02+09:00", None),
    ],
}
CONTRACT_FIELDS = {
    "kind",
    "category",
    "source_ip",
    "source_port",
    "observed_at",
    "in_network",
    "subscriber_id",
    "candidates",
    "complaint_id",
    "duplicate",
}


def ingest(cli: Run, *paths: Path | str, input: bytes | None = None) -> tuple[int, list[dict]]:
    result = cli("ingest", "--json", *map(str, paths), input=input)
    return result.exit_code, json_lines(result.stdout)


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_is_attributed(cli: Run, name: str) -> None:
    code, lines = ingest(cli, COMPLAINTS / name)
    assert code == 0, lines
    got = [
        (
            line["kind"],
            line["source_ip"],
            line["source_port"],
            line["observed_at"],
            line["subscriber_id"],
        )
        for line in lines
    ]
    assert got == EXPECTED[name]
    for line in lines:
        assert CONTRACT_FIELDS <= set(line)
        assert line["duplicate"] is False
        assert line["in_network"] is (line["subscriber_id"] is not None)


@pytest.mark.usefixtures("examplenet")
def test_takedown_is_tied_to_the_hosted_site(cli: Run) -> None:
    _, [line] = ingest(cli, COMPLAINTS / "takedown_request.json")
    assert line["domain"] == "blog.sample.example.jp"
    assert line["category"] == "defamation"


@pytest.mark.usefixtures("examplenet")
def test_same_complaint_twice_is_one_complaint(cli: Run, factory: sessionmaker[Session]) -> None:
    everything = sorted(COMPLAINTS.iterdir())
    _, first = ingest(cli, *everything)
    _, second = ingest(cli, *everything)
    assert [line["complaint_id"] for line in first] == [line["complaint_id"] for line in second]
    assert all(line["duplicate"] for line in second)
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == len(first) == 8


@pytest.mark.usefixtures("examplenet")
def test_redelivered_mail_with_new_top_hop_is_a_duplicate(cli: Run, tmp_path: Path) -> None:
    original = (COMPLAINTS / "static_direct.eml").read_bytes()
    redelivered = tmp_path / "again.eml"
    redelivered.write_bytes(
        b"Received: from mx2.example.net (mx2.example.net [203.0.113.9]) by mbox.example.net"
        b" with ESMTP id ZZ; Tue, 20 Oct 2026 13:05:00 +0900\n" + original
    )
    _, [first] = ingest(cli, COMPLAINTS / "static_direct.eml")
    _, [again] = ingest(cli, redelivered)
    assert again["duplicate"] is True and again["complaint_id"] == first["complaint_id"]


@pytest.mark.usefixtures("examplenet")
def test_complainant_never_appears_in_the_ingest_output(
    cli: Run, factory: sessionmaker[Session]
) -> None:
    result = cli("ingest", "--json", *map(str, sorted(COMPLAINTS.iterdir())))
    for secret in (
        "kujo@recipient.example",
        "Complainant",
        "小林",
        "kobayashi@claimant.example",
        "fwd-h1@recipient.example",
        "fbl@bigmail.example",
    ):
        assert secret not in result.stdout
    with unit_of_work(factory) as session:
        stored = session.scalars(select(ComplainantIdentity.email)).all()
    assert "kujo@recipient.example" in stored and "kobayashi@claimant.example" in stored


@pytest.mark.usefixtures("examplenet")
def test_complaints_show_reveals_only_with_the_readers_own_reason(
    cli: Run, factory: sessionmaker[Session]
) -> None:
    """Before, ``complaints show`` printed the evidence and the complainant under the default
    reason "operator review"; an audited read needs the reader's words, as the console asks."""
    [line] = json_lines(cli("ingest", "--json", str(COMPLAINTS / "takedown_request.json")).stdout)
    complaint = str(line["complaint_id"])
    for refused in (
        cli("complaints", "show", complaint),
        cli("complaints", "show", complaint, "--reason", "  "),
    ):
        assert refused.exit_code == 2
        assert "--reason" in refused.stderr and "audit trail" in refused.stderr
        assert "kobayashi@claimant.example" not in refused.stdout
    reads = select(AuditEntry.reason).where(AuditEntry.action == "view-complaint")
    with unit_of_work(factory) as session:
        assert session.scalars(reads).all() == []
    shown = cli("complaints", "show", complaint, "--json", "--reason", "削除依頼の確認")
    assert shown.exit_code == 0 and "kobayashi@claimant.example" in shown.stdout
    with unit_of_work(factory) as session:
        assert session.scalars(reads).all() == ["削除依頼の確認"]


@pytest.mark.usefixtures("examplenet")
def test_bad_files_are_reported_kept_and_do_not_stop_the_batch(
    cli: Run, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes((COMPLAINTS / "takedown_request.json").read_bytes()[:120])
    code, lines = ingest(
        cli, garbage, COMPLAINTS / "static_direct.eml", empty, truncated, tmp_path / "missing.eml"
    )
    assert code == 1
    errors = {Path(line["file"]).name: line["error"] for line in lines if "error" in line}
    assert set(errors) == {"garbage.bin", "empty.eml", "truncated.json", "missing.eml"}
    assert all(errors.values())
    assert [line["source_ip"] for line in lines if "error" not in line] == ["198.51.100.61"]
    failures = json_lines(cli("intake", "failures", "--json").stdout)
    assert {Path(f["file"]).name for f in failures} == {
        "garbage.bin",
        "empty.eml",
        "truncated.json",
    }
    with unit_of_work(factory) as session:
        kept = session.scalars(select(Document).where(Document.status == "failed")).all()
        assert any(doc.content == bytes(range(256)) * 4 for doc in kept)


@pytest.mark.usefixtures("examplenet")
def test_stdin_is_one_message(cli: Run) -> None:
    code, [line] = ingest(cli, "-", input=(COMPLAINTS / "arf_cgnat_port.eml").read_bytes())
    assert code == 0 and line["subscriber_id"] == "C2006"


@pytest.mark.usefixtures("examplenet")
def test_a_document_stored_before_a_crash_is_finished_by_retry(
    cli: Run, factory: sessionmaker[Session]
) -> None:
    """The raw mail is committed first; if the process dies before the complaint is recorded,
    ``intake retry`` records it."""
    with unit_of_work(factory) as session:
        store_document(
            session,
            (COMPLAINTS / "smarthost_dynamic.eml").read_bytes(),
            "smarthost_dynamic.eml",
            datetime(2026, 10, 20, 4, tzinfo=UTC),
            1 << 20,
        )
    result = cli("intake", "retry", "--json")
    assert result.exit_code == 0
    [line] = json_lines(result.stdout)
    assert line["subscriber_id"] == "C2002" and line["duplicate"] is False
    assert json_lines(cli("intake", "retry", "--json").stdout) == []


def test_oversize_document_is_refused_with_a_reason(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTDESK_INTAKE__MAX_DOCUMENT_BYTES", "1000")
    big = tmp_path / "big.eml"
    big.write_bytes((COMPLAINTS / "static_direct.eml").read_bytes() * 3)
    code, [line] = ingest(cli, big)
    assert code == 1 and "limit is 1000" in line["error"]


REAL = sorted(p for p in REAL_WORLD.rglob("*.eml"))


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_every_real_world_shaped_report_is_ingested(cli: Run, path: Path) -> None:
    code, lines = ingest(cli, path)
    assert code == 0, lines
    assert lines and all("error" not in line for line in lines)
    for line in lines:
        assert line["source_ip"], line
        assert line["in_network"] is False and line["subscriber_id"] is None


@pytest.mark.usefixtures("examplenet")
def test_large_feed_across_batches_with_repeated_rows(
    cli: Run, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    """A feed larger than one recording batch, with rows repeated inside it and across two
    deliveries: every distinct event is stored once and attributed as one-by-one would."""
    header = '"timestamp","ip","protocol","port","tag"\n'
    addresses = ["198.51.100.61", "198.51.100.201", "192.0.2.99", "203.0.113.140"]
    rows = [
        f'"2026-10-20 {n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}","{addresses[n % 4]}",'
        f'"tcp",{20224 + n % 1000},"telnet"\n'
        for n in range(1234)
    ]
    feed = tmp_path / "2026-10-20-scan_telnet-asn-jp.csv"
    feed.write_text(header + "".join(rows + rows[:300]), encoding="utf-8")
    code, lines = ingest(cli, feed)
    assert code == 0 and len(lines) == 1534
    assert sum(not line["duplicate"] for line in lines) == 1234
    assert len({line["complaint_id"] for line in lines}) == 1234
    by_ip = {ip: [line for line in lines if line["source_ip"] == ip] for ip in addresses}
    # 09:00-09:20 JST: jiro's session on the dynamic address; CGNAT blocks picked by port
    assert all(line["subscriber_id"] == "C2002" for line in by_ip["198.51.100.201"])
    assert all(
        line["subscriber_id"] == ("C2005" if line["source_port"] <= 20735 else "C2006")
        for line in by_ip["203.0.113.140"]
    )
    assert all(line["in_network"] is False for line in by_ip["192.0.2.99"])
    assert all(line["subscriber_id"] == "C2001" for line in by_ip["198.51.100.61"])

    (tmp_path / "later").mkdir()
    again = tmp_path / "later" / feed.name  # the report type comes from the file name
    again.write_text(header + "".join(reversed(rows)), encoding="utf-8")
    code, lines = ingest(cli, again)
    assert code == 0 and all(line["duplicate"] for line in lines)
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1234


def arf_report(source_ip: str, arrival: str, port: int | None = None) -> bytes:
    port_field = f"Source-Port: {port}\n" if port is not None else ""
    return (
        "From: FBL <fbl@bigmail.example>\nTo: abuse@example.net\nSubject: FW: spam\n"
        f"Message-ID: <arf-{source_ip}-{port}@bigmail.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nAn abuse report.\n\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        f"Feedback-Type: abuse\nUser-Agent: t/1\nVersion: 1\nSource-IP: {source_ip}\n"
        f"{port_field}Arrival-Date: {arrival}\n\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: <a@b.example>\nSubject: x\n\nbody\n--b--\n"
    ).encode()


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize(
    ("source_ip", "port", "subscriber", "candidates"),
    [
        ("2001:db8:100:3b00:0:0:0:25", None, "C2004", ["C2004"]),  # IPv6 static /56
        ("2001:0db8:0100:3bff::1", None, "C2004", ["C2004"]),
        ("203.0.113.140", 20800, "C2006", ["C2006"]),  # CGNAT with the port
        ("203.0.113.140", None, None, ["C2005", "C2006"]),  # CGNAT without: candidates only
    ],
)
def test_feedback_reports_are_attributed(
    cli: Run,
    tmp_path: Path,
    source_ip: str,
    port: int | None,
    subscriber: str | None,
    candidates: list[str],
) -> None:
    path = tmp_path / "arf.eml"
    path.write_bytes(arf_report(source_ip, "Tue, 20 Oct 2026 02:00:00 +0000", port))
    code, [line] = ingest(cli, path)
    assert code == 0
    assert line["in_network"] is True
    assert (line["subscriber_id"], line["candidates"]) == (subscriber, candidates)
