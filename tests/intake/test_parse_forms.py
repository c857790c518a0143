"""trustdesk.intake.forms: web-form complaints (SPEC §1, seed 000), validated with Pydantic."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import COMPLAINTS
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import Report, UnparseableDocument
from trustdesk.timeutil import JST

TAKEDOWN = COMPLAINTS / "takedown_request.json"

RELAYS = ("203.0.113.25", "203.0.113.26")
REPORTER = {"name": "佐藤 花子", "email": "hanako@victim.example", "phone": "090-0000-0000"}
SPAM = (
    "Received: from mx.victim.example (mx.victim.example [192.0.2.44]) by mbox.victim.example"
    " with ESMTP id 1; Tue, 20 Oct 2026 10:00:01 +0900\n"
    "Received: from pc.example.net (pc.example.net [198.51.100.61]) by mx.victim.example"
    " with ESMTP id 2; Tue, 20 Oct 2026 10:00:00 +0900\n"
    "From: sale@example.net\nSubject: =?utf-8?B?5LuK44Gg44GR54m55L6h?=\n"
    "Message-ID: <form-spam@example.net>\n\n今だけ特価\n"
)


def parse(document: dict[str, Any]) -> Report:
    [report] = parse_document(json.dumps(document, ensure_ascii=False).encode(), "f.json", RELAYS)
    return report


def takedown(**changes: Any) -> dict[str, Any]:
    return {**json.loads(TAKEDOWN.read_text()), **changes}


def test_takedown_fixture() -> None:
    [report] = parse_document(TAKEDOWN.read_bytes(), TAKEDOWN.name, RELAYS)
    assert (report.kind, report.category, report.source_format) == (
        "takedown",
        "defamation",
        "form",
    )
    assert report.url == "https://blog.sample.example.jp/review/123"
    assert report.domain == "blog.sample.example.jp"
    assert report.source_ip is None  # attribution resolves the hosted site
    assert report.observed_at == datetime(2026, 10, 20, 15, tzinfo=JST)
    who = report.complainant
    assert (who.name, who.email, who.phone, who.postal_address) == (
        "小林 誠",
        "kobayashi@claimant.example",
        "03-0000-0000",
        "東京都千代田区千代田1-1",
    )
    assert who.consents_to_disclosure is False
    assert report.details["information"] == "「小林誠は詐欺師だ」という書き込み"
    assert report.details["documents"][1] == {
        "type": "seal_certificate",
        "sealed": None,
        "issued_on": "2026-10-15",
    }
    assert report.details["requester_is_agent"] is False
    assert report.fingerprint[0] == "form" and len(report.fingerprint[1]) == 64


def test_the_requesters_identity_lives_only_in_the_complainant() -> None:
    report = parse(takedown())
    shown = json.dumps(report.details, ensure_ascii=False) + report.evidence
    for secret in ("小林 誠", "kobayashi@claimant.example", "03-0000-0000", "千代田1-1"):
        assert secret not in shown


def test_consent_and_idna_domain() -> None:
    report = parse(takedown(disclose_name_to_sender=True, url="https://例え.テスト/page"))
    assert report.complainant.consents_to_disclosure is True
    assert report.domain == "xn--r8jz45g.xn--zckzah"


def test_the_same_form_has_one_fingerprint_whatever_its_layout() -> None:
    compact = json.dumps(takedown(), separators=(",", ":"), ensure_ascii=True).encode()
    [again] = parse_document(compact, None, RELAYS)
    assert parse(takedown()).fingerprint == again.fingerprint
    assert parse(takedown(reason="別の理由")).fingerprint != again.fingerprint


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": None}, "url"),
        ({"url": "ftp://files.example/x"}, "url"),
        ({"infringed_right": "libel"}, "infringed_right"),
        ({"disclose_name_to_sender": "yes"}, "disclose_name_to_sender"),
        ({"submitted_at": "2026-10-20T15:00:00"}, "submitted_at"),
        (
            {"requester": {"name": "x", "address": "y", "email": "not-mail", "phone": "1"}},
            "requester.email",
        ),
        ({"documents": [{"type": "passport"}]}, "documents.0.type"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_takedown_forms_are_refused_field_by_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(UnparseableDocument, match=rf"not valid: .*takedown\.{field}"):
        parse(takedown(**changes))


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(UnparseableDocument, match="kind"):
        parse({"kind": "complaint"})


def abuse(**changes: Any) -> dict[str, Any]:
    form = {
        "kind": "abuse",
        "reporter": REPORTER,
        "ip": "198.51.100.45",
        "occurred_at": "2026-10-20T09:30",
        "category": "Intrusion",
        "details": "SSH brute force",
        "logs": "Oct 20 09:30:01 sshd: Failed password for root from 198.51.100.45",
    }
    return {**form, **changes}


def test_abuse_form_time_without_offset_is_jst() -> None:
    """SPEC §1: the form asks for the date and time in JST."""
    report = parse(abuse())
    assert (report.kind, report.category, report.source_ip) == (
        "abuse",
        "intrusion",
        "198.51.100.45",
    )
    assert report.observed_at == datetime(2026, 10, 20, 9, 30, tzinfo=JST)
    assert report.complainant.email == "hanako@victim.example"
    assert "hanako" not in report.evidence and "reporter" not in report.details
    assert report.details["logs"].startswith("Oct 20")


def test_abuse_form_explicit_offset_is_honoured() -> None:
    report = parse(abuse(occurred_at="2026-10-20T00:30:00Z"))
    assert report.observed_at == datetime(2026, 10, 20, 9, 30, tzinfo=JST)


def test_abuse_form_by_host_name() -> None:
    report = parse(abuse(ip=None, host="Phish.Example.NET", category="phishing"))
    assert (report.source_ip, report.domain) == (None, "phish.example.net")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ip": None}, "IP address or the host name"),
        ({"ip": "999.1.1.1"}, "ip: Value error, not an IP address"),
        ({"occurred_at": "2026-10-20"}, "hour and minute"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"category": ""}, "category"),
        ({"reporter": {"name": "x"}}, "reporter.email"),
    ],
)
def test_invalid_abuse_forms_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UnparseableDocument, match=message):
        parse(abuse(**changes))


def spam_form(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "spam",
        "reporter": REPORTER,
        "message": SPAM,
        "comment": "毎日届きます",
        "submitted_at": "2026-10-20T12:00:00+09:00",
        **changes,
    }


def test_spam_form_is_read_like_a_forwarded_spam() -> None:
    report = parse(spam_form())
    assert (report.kind, report.category, report.source_format) == ("spam", "spam", "form")
    assert report.source_ip == "198.51.100.61"
    assert report.observed_at == datetime(2026, 10, 20, 10, tzinfo=JST)
    assert report.details["spam_subject"] == "今だけ特価"
    assert report.details["comment"] == "毎日届きます"
    assert report.evidence == SPAM
    assert report.fingerprint[0] == "form"
    assert report.complainant.name == "佐藤 花子"


def test_spam_form_without_received_headers_is_refused() -> None:
    with pytest.raises(UnparseableDocument, match="no Received headers"):
        parse(spam_form(message="Subject: hi\n\nbody\n"))
