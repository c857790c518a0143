"""Replies to notices (issue 3): ingested like any mail, tied to their case by the notice's
Message-ID or the reference in the subject, kept as evidence, never a new complaint, and
accepted as the subscriber's only when the From is the address the notices went to."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cases.scenario import Run, at, case, events, ingest, outbox, second_xarf, variant
from tests.conftest import COMPLAINTS, json_lines
from trustdesk.cases.replies import might_be_reply, read_reply
from trustdesk.timeutil import parse_instant

T0 = "2026-10-20T13:05:00+09:00"
LATER = "2026-10-21T09:00:00+09:00"


def reply_mail(
    tmp_path: Path,
    sender: str,
    subject: str,
    in_reply_to: str | None = None,
    body: str = "原因はメールサーバーの設定ミスでした。対策として認証を必須にしました。",
    name: str = "reply.eml",
) -> Path:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "abuse@example.net"
    message["Subject"] = subject
    message["Date"] = format_datetime(parse_instant(LATER))
    message["Message-ID"] = f"<reply-{len(list(tmp_path.iterdir()))}@customer.example>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    path = tmp_path / name
    path.write_bytes(bytes(message))
    return path


def complaints(cli: Run) -> list[dict[str, Any]]:
    return json_lines(cli("complaints", "list", "--json").stdout)


def _spam_case(cli: Run) -> tuple[int, dict[str, Any]]:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    [notice] = outbox(cli)
    return line["case_id"], notice


@pytest.mark.usefixtures("examplenet")
def test_the_subscribers_reply_is_evidence_and_moves_the_case(cli: Run, tmp_path: Path) -> None:
    case_id, notice = _spam_case(cli)
    path = reply_mail(
        tmp_path,
        "加藤 次郎 <Taro@Kato-Home.example>",
        "Re: " + notice["subject"],
        notice["message_id"],
    )
    [line] = ingest(cli, LATER, path)
    assert line["case_id"] == case_id and line["reply_id"] is not None
    assert "complaint_id" not in line
    assert len(complaints(cli)) == 1  # not a new spam complaint
    shown = case(cli, case_id)
    assert shown["state"] == "under_review" and events(shown) == ["open", "reply"]
    [reply] = shown["replies"]
    assert reply["from"] == "taro@kato-home.example" and reply["verified"] is True
    assert reply["matched_by"] == "message-id" and reply["sender_role"] == "subscriber"
    assert reply["needs_review"] is False and "認証を必須" in reply["text"]
    assert reply["document_id"] is not None  # the raw mail is kept
    assert f"reply {reply['reply_id']} from taro@kato-home.example" in shown["timeline"][-1]["note"]
    # the same mail ingested again is the same document: nothing new
    again = at(cli, LATER, "ingest", "--json", str(path))
    assert json_lines(again.stdout)[0]["reply_id"] == reply["reply_id"]
    assert len(case(cli, case_id)["replies"]) == 1


@pytest.mark.usefixtures("examplenet")
def test_a_forged_reply_quoting_the_reference_is_flagged_not_believed(
    cli: Run, tmp_path: Path
) -> None:
    case_id, notice = _spam_case(cli)
    forged = reply_mail(tmp_path, "attacker@evil.example", f"Re: [TD-{case_id:06d}] 対策済み")
    [line] = ingest(cli, LATER, forged)
    assert line["case_id"] == case_id
    shown = case(cli, case_id)
    assert shown["state"] == "awaiting_reply"  # the 72 hours still run
    [reply] = shown["replies"]
    assert (reply["verified"], reply["needs_review"], reply["sender_role"]) == (False, True, None)
    assert reply["matched_by"] == "reference" and reply["from"] == "attacker@evil.example"
    assert shown["timeline"][-1]["event"] == "reply-recorded"
    assert "an operator checks who wrote it" in shown["timeline"][-1]["note"]
    at(cli, "2026-10-23T13:05:00+09:00", "tick")
    assert case(cli, case_id)["state"] == "suspended"


@pytest.mark.usefixtures("examplenet")
def test_a_reply_after_the_notice_was_answered_is_recorded(cli: Run, tmp_path: Path) -> None:
    case_id, notice = _spam_case(cli)
    at(cli, LATER, "cases", "decide", str(case_id), "reply", "--note", "phoned in")
    path = reply_mail(tmp_path, "taro@kato-home.example", "Re: " + notice["subject"])
    ingest(cli, LATER, path)
    shown = case(cli, case_id)
    # seed 001: once under review, a further mail is noted; an operator reads it
    assert events(shown)[-2:] == ["reply", "reply"] and shown["state"] == "under_review"
    assert "phoned in" in shown["timeline"][1]["note"]
    [reply] = shown["replies"]
    assert reply["verified"] is True and reply["needs_review"] is True


@pytest.mark.usefixtures("examplenet")
def test_takedown_sender_and_requester_replies(cli: Run, tmp_path: Path) -> None:
    """The sender's answer stops the inquiry clock; the requester's is recorded as theirs."""
    [line] = ingest(cli, "2026-10-20T15:00:00+09:00", COMPLAINTS / "takedown_request.json")
    case_id = line["case_id"]
    [inquiry] = outbox(cli)
    sender = reply_mail(
        tmp_path,
        "admin@blog.sample.example.jp",
        "Re: " + inquiry["subject"],
        inquiry["message_id"],
        body="削除には同意しません。事実に基づく記述です。",
    )
    ingest(cli, LATER, sender)
    assert case(cli, case_id)["state"] == "sender_answered"
    at(cli, "2026-10-28T00:00:00+09:00", "tick")  # the 7 days passed: no takedown for silence
    assert case(cli, case_id)["state"] == "sender_answered"
    requester = reply_mail(
        tmp_path, "kobayashi@claimant.example", f"[TD-{case_id:06d}] 進捗は？", name="r2.eml"
    )
    ingest(cli, LATER, requester)
    shown = case(cli, case_id)
    roles = [(r["sender_role"], r["verified"]) for r in shown["replies"]]
    assert roles == [("subscriber", True), (None, False)]  # no notice went to the requester yet
    at(cli, "2026-10-28T10:00:00+09:00", "cases", "decide", str(case_id), "sender-objected")
    at(cli, "2026-10-29T10:00:00+09:00", "cases", "decide", str(case_id), "reject")
    third = reply_mail(
        tmp_path, "kobayashi@claimant.example", f"Re: [TD-{case_id:06d}] 了解", name="r3.eml"
    )
    ingest(cli, "2026-10-30T10:00:00+09:00", third)
    assert case(cli, case_id)["replies"][-1]["sender_role"] == "complainant"


@pytest.mark.usefixtures("examplenet")
def test_an_operator_records_a_reply_from_a_file(cli: Run, tmp_path: Path) -> None:
    case_id, _ = _spam_case(cli)
    letter = tmp_path / "letter.txt"
    letter.write_text("書面での報告: 原因はマルウェア感染でした。", encoding="utf-8")
    result = at(cli, LATER, "cases", "reply", str(case_id), "--file", str(letter), "--json")
    [shown] = json_lines(result.stdout)
    assert shown["state"] == "under_review"
    [reply] = shown["replies"]
    assert reply["matched_by"] == "operator" and reply["verified"] is True
    assert reply["recorded_by"].startswith("cli:") and "マルウェア" in reply["text"]
    assert cli("intake", "retry", "--json").stdout == ""  # the file is evidence, not a complaint
    bad = cli("cases", "reply", str(case_id), "--file", str(letter), "--role", "police")
    assert bad.exit_code == 1


@pytest.mark.usefixtures("examplenet")
def test_a_reply_to_a_merged_case_reaches_the_case_it_was_merged_into(
    cli: Run, tmp_path: Path
) -> None:
    [first] = ingest(cli, T0, COMPLAINTS / "xarf_login_attack.eml")
    second = second_xarf(tmp_path)
    [line] = ingest(cli, T0, second)
    split = at(
        cli,
        T0,
        "cases",
        "split",
        str(first["case_id"]),
        "--complaints",
        str(line["complaint_id"]),
        "--json",
    )
    [other] = json_lines(split.stdout)
    notice = next(n for n in outbox(cli) if n["case_id"] == other["case_id"])
    at(cli, T0, "cases", "merge", str(first["case_id"]), str(other["case_id"]))
    path = reply_mail(tmp_path, "admin@blog.sample.example.jp", "Re: x", notice["message_id"])
    [answer] = ingest(cli, LATER, path)
    assert answer["case_id"] == first["case_id"]
    assert case(cli, first["case_id"])["state"] == "under_review"


@pytest.mark.usefixtures("examplenet")
def test_a_feedback_report_quoting_a_reference_is_still_a_complaint(
    cli: Run, tmp_path: Path
) -> None:
    _spam_case(cli)
    report = variant(tmp_path, "arf_cgnat_port.eml", (b"Subject: ", b"Subject: [TD-000001] "))
    [line] = ingest(cli, LATER, report)
    assert line.get("reply_id") is None and line["complaint_id"] is not None


def test_read_reply_reads_the_clues() -> None:
    raw = (
        b"From: =?utf-8?b?5Yqg6Jek?= <Taro@Kato-Home.example>\r\n"
        b"Subject: =?utf-8?b?UmU6IFtURC0wMDAxMjNdIOOBiuefpeOCieOBmw==?=\r\n"
        b"In-Reply-To: <TD-000123.abc@example.net>\r\n"
        b"References: <a@b.example> <TD-000123.abc@example.net>\r\n"
        b"Message-ID: <r1@Kato-Home.example>\r\n\r\nbody\r\n"
    )
    reply = read_reply(raw)
    assert reply is not None
    assert reply.case_numbers == (123,) and reply.from_address == "taro@kato-home.example"
    assert reply.refers_to == ("<TD-000123.abc@example.net>", "<a@b.example>")
    assert reply.message_id == "<r1@kato-home.example>" and reply.text == "body"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "takedown"}',
        b"timestamp,ip\n2026-10-20,1.2.3.4\n",
        b"From: a@b.example\r\nContent-Type: multipart/report; report-type=feedback-report\r\n"
        b"Subject: [TD-000001]\r\n\r\n",
        b"From: a@b.example\r\nX-ARF: YES\r\nSubject: [TD-000001]\r\n\r\n",
    ],
)
def test_what_is_never_a_reply(raw: bytes) -> None:
    assert read_reply(raw) is None and not might_be_reply(raw)


def test_the_header_check_finds_the_clues_read_reply_reads() -> None:
    assert might_be_reply(b"Subject: =?utf-8?b?UmU6IFtURC0wMDAxMjNd?=\r\n\r\nx")
    assert might_be_reply(b"Subject: hi\r\nIn-Reply-To: <a@b.example>\r\n\r\nx")
    assert not might_be_reply((COMPLAINTS / "static_direct.eml").read_bytes())


def test_a_from_with_several_addresses_identifies_nobody() -> None:
    raw = b"From: a@x.example, b@y.example\r\nSubject: [TD-000001]\r\n\r\nhi\r\n"
    reply = read_reply(raw)
    assert reply is not None and reply.from_address is None and reply.case_numbers == (1,)
    assert read_reply(b"Subject: hello\r\n\r\n") is not None
    assert not read_reply(b"Subject: hello\r\n\r\n").has_clues  # type: ignore[union-attr]
