"""The public complaint forms: one path into intake, CSRF, rate limits, uploads, escaping.

SPEC §1 / seed 000: a takedown request with every field and its documents, a spam complaint
with the full header and body, other abuse with the IP or host and the JST time; each answers
with a reference number and queues a receipt (issue 4).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, Clock
from trustdesk.access import service as access
from trustdesk.cases.models import Case, CaseComplaint, Notice
from trustdesk.db import unit_of_work
from trustdesk.intake.models import ComplainantIdentity, Complaint, Document, FormUpload
from trustdesk.privacy.models import AuditEntry
from trustdesk.settings import Settings
from trustdesk.timeutil import JST
from trustdesk.web import i18n, public_i18n
from trustdesk.web.auth import SESSION_COOKIE

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
SPAM = (COMPLAINTS / "static_direct.eml").read_bytes()
# The spam attached inside the fixture complaint: what a recipient pastes (full header + body).
PASTED_SPAM = re.split(rb"Content-Disposition: attachment\r?\n\r?\n", SPAM)[1].split(b"--=====")[0]
SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'

TAKEDOWN = {
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
    "sealed": "yes",
    "seal_certificate_issued_on": "2026-10-15",
}
DOCUMENTS = {
    "request_form": ("依頼書.pdf", PDF, "application/pdf"),
    "seal_certificate": ("certificate.png", PNG, "image/png"),
}
ABUSE = {
    "reporter_name": "SOC",
    "reporter_email": "soc@victim.example",
    "ip": "198.51.100.45",
    "occurred_at": "2026-10-20T12:12",
    "category": "service-disruption",
    "details": "SSH brute force against our servers",
    "logs": "Oct 20 12:12:01 sshd[1]: Failed password for root from 198.51.100.45",
}


def token(client: TestClient, kind: str) -> str:
    page = client.get(f"/forms/{kind}")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def submit(
    client: TestClient,
    kind: str,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None = None,
    csrf: str | None = "fetch",
) -> Any:
    data = dict(fields)
    if csrf == "fetch":
        data["csrf_token"] = token(client, kind)
    elif csrf is not None:
        token(client, kind)  # the cookie is set, the field is wrong
        data["csrf_token"] = csrf
    return client.post(f"/forms/{kind}", data=data, files=files or None)


def alerts(page: str) -> list[str]:
    return re.findall(r'role="alert">([^<]+)<', page)


def count(factory: sessionmaker[Session], model: type) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def reference_of(page: str) -> int:
    found = re.search(r'id="reference">TDC-(\d{6})<', page)
    assert found is not None, page
    return int(found.group(1))


# -- the forms and their one path into intake ---------------------------------------------------


def test_forms_are_japanese_by_default_and_switch_to_english(client: TestClient) -> None:
    for kind, words in (
        ("takedown", "送信防止措置依頼"),
        ("spam", "迷惑メール"),
        ("abuse", "迷惑行為"),
    ):
        assert words in client.get(f"/forms/{kind}").text
    switched = client.get("/lang/en?next=/forms/takedown")
    assert switched.status_code == 200 and "Takedown request" in switched.text
    assert "No, do not disclose my name" in switched.text
    assert client.get("/forms/nothing").status_code == 404


def test_the_disclosure_choice_has_no_default(client: TestClient) -> None:
    page = client.get("/forms/takedown").text
    radios = re.findall(r'<input type="radio" name="disclose_name_to_sender"[^>]*>', page)
    assert len(radios) == 2 and not any("checked" in radio for radio in radios)


@pytest.mark.usefixtures("examplenet")
def test_a_takedown_request_with_documents_is_recorded_with_its_files_and_receipt(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    answer = submit(client, "takedown", TAKEDOWN, DOCUMENTS)
    assert answer.status_code == 200, alerts(answer.text)
    complaint_id = reference_of(answer.text)
    assert "依頼書.pdf" in answer.text and "小林 誠" in answer.text
    with unit_of_work(factory) as session:
        complaint = session.get_one(Complaint, complaint_id)
        assert (complaint.kind, complaint.source_format) == ("takedown", "form")
        assert complaint.subscriber_id == "C2003"
        assert complaint.details["documents"] == [
            {"type": "request_form", "sealed": True, "issued_on": None},
            {"type": "seal_certificate", "sealed": None, "issued_on": "2026-10-15"},
        ]
        assert complaint.details["asked_site_admin_first"] is True
        who = session.get_one(ComplainantIdentity, complaint_id)
        assert (who.name, who.consents_to_disclosure) == ("小林 誠", False)
        files = session.scalars(
            select(FormUpload).where(FormUpload.document_id == complaint.document_id)
        ).all()
        assert {(f.role, f.media_type, f.filename, f.content) for f in files} == {
            ("request_form", "application/pdf", "依頼書.pdf", PDF),
            ("seal_certificate", "image/png", "certificate.png", PNG),
        }
        # The document is the JSON the API takes; the case opened in the same path.
        document = session.get_one(Document, complaint.document_id)
        assert document.filename == "form-takedown.json" and document.content.startswith(b"{")
        assert session.get(CaseComplaint, complaint_id) is not None
        [receipt] = session.scalars(select(Notice).where(Notice.complaint_id == complaint_id))
        assert receipt.case_id is None
        assert (receipt.template, receipt.lang, receipt.recipient) == (
            "intake.receipt",
            "ja",
            "complainant",
        )
        assert receipt.to_address == "kobayashi@claimant.example"
        assert f"[TDC-{complaint_id:06d}]" in receipt.subject
        assert receipt.status == "kept"  # delivered by runner.deliver; no SMTP relay configured
        # The receipt repeats nothing the filer wrote and names no subscriber.
        for secret in ("詐欺師", "blog.sample", "C2003", "小林"):
            assert secret not in receipt.body


def test_a_receipt_is_in_the_language_of_the_form(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    client.cookies.set("td_lang", "en")
    answer = submit(client, "abuse", ABUSE)
    assert answer.status_code == 200 and "Reference number" in answer.text
    with unit_of_work(factory) as session:
        receipt = session.scalars(select(Notice)).one()
        assert receipt.lang == "en" and "We have received your report" in receipt.subject


def test_bad_input_comes_back_with_the_values_and_messages_in_the_filers_language(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    fields = TAKEDOWN | {"disclose_name_to_sender": "", "url": "javascript:alert(1)"}
    answer = submit(client, "takedown", fields)
    assert answer.status_code == 422
    assert "入力してください。" in alerts(answer.text)
    assert "http:// または https:// で始まるURLを入力してください。" in alerts(answer.text)
    assert 'value="javascript:alert(1)"' in answer.text  # kept, shown as a value only
    assert "虚偽の事実により社会的評価が低下した</textarea>" in answer.text
    assert count(factory, Document) == 0
    client.cookies.set("td_lang", "en")
    abuse = submit(client, "abuse", ABUSE | {"ip": "", "occurred_at": "2026-10-20"})
    assert abuse.status_code == 422
    assert set(alerts(abuse.text)) >= {
        "Give the IP address or the host name.",
        "Give the date and the time to the minute.",
    }


def test_an_abuse_report_takes_the_time_in_jst_and_the_category_from_section_18(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    answer = submit(client, "abuse", ABUSE | {"category": "other", "category_other": "Phishing"})
    assert answer.status_code == 200
    with unit_of_work(factory) as session:
        complaint = session.get_one(Complaint, reference_of(answer.text))
        assert complaint.category == "phishing"
        assert complaint.observed_at == datetime(2026, 10, 20, 12, 12, tzinfo=JST)
    missing_word = submit(client, "abuse", ABUSE | {"category": "other"})
    assert missing_word.status_code == 422 and "入力してください。" in alerts(missing_word.text)


@pytest.mark.usefixtures("examplenet")
def test_a_spam_complaint_is_read_pasted_or_from_its_eml(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    reporter = {"reporter_email": "victim@recipient.example"}
    pasted = submit(client, "spam", reporter | {"message": PASTED_SPAM.decode()})
    assert pasted.status_code == 200, alerts(pasted.text)
    uploaded = submit(
        client, "spam", reporter, {"eml": ("spam.eml", PASTED_SPAM + b"\n", "text/plain")}
    )
    assert uploaded.status_code == 200, alerts(uploaded.text)
    with unit_of_work(factory) as session:
        for page in (pasted, uploaded):
            complaint = session.get_one(Complaint, reference_of(page.text))
            assert (complaint.kind, complaint.source_ip, complaint.subscriber_id) == (
                "spam",
                "198.51.100.61",
                "C2001",
            )
        [eml] = session.scalars(select(FormUpload)).all()
        assert (eml.role, eml.media_type, eml.content) == (
            "eml",
            "message/rfc822",
            PASTED_SPAM + b"\n",
        )
    headerless = submit(client, "spam", reporter | {"message": "Subject: hi\n\nbuy now"})
    assert headerless.status_code == 422
    assert any("Received" in alert for alert in alerts(headerless.text))


# -- CSRF and rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "forged-token-of-another-site-000000"])
def test_a_form_without_its_token_is_refused_and_shown_again(
    client: TestClient, factory: sessionmaker[Session], csrf: str | None
) -> None:
    answer = submit(client, "abuse", ABUSE, csrf=csrf)
    assert answer.status_code == 403
    assert "フォームの有効期限が切れました" in answer.text
    assert 'value="198.51.100.45"' in answer.text
    assert count(factory, Document) == 0


def test_a_token_without_its_cookie_is_refused(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    stolen = token(client, "abuse")
    client.cookies.clear()
    answer = client.post("/forms/abuse", data=ABUSE | {"csrf_token": stolen})
    assert answer.status_code == 403
    assert count(factory, Document) == 0


def test_submissions_past_the_limit_per_client_get_429(
    client: TestClient, settings: Settings, factory: sessionmaker[Session]
) -> None:
    settings.web.form_submissions_per_client = 2
    for n in range(2):
        assert submit(client, "abuse", ABUSE | {"details": f"attack {n}"}).status_code == 200
    refused = submit(client, "abuse", ABUSE | {"details": "attack 3"})
    assert refused.status_code == 429
    assert "送信回数が多すぎます" in refused.text and "attack 3</textarea>" in refused.text
    assert count(factory, Complaint) == 2


# -- upload abuse -------------------------------------------------------------------------------


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.txt", b"0" * 5_000_000)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("role", "upload", "message"),
    [
        ("request_form", ("request.pdf", b"<html><script>x</script>", "application/pdf"), "wrong"),
        ("request_form", ("bomb.pdf", zip_bomb(), "application/pdf"), "wrong"),
        ("seal_certificate", ("cert.png", b"GIF89a" + b"\x00" * 10, "image/png"), "wrong"),
        ("request_form", ("empty.pdf", b"", "application/pdf"), "empty"),
        ("request_form", ("big.pdf", PDF + b"0" * 10_000, "application/pdf"), "large"),
    ],
)
def test_documents_are_checked_by_their_content_and_size(
    client: TestClient,
    settings: Settings,
    factory: sessionmaker[Session],
    role: str,
    upload: tuple[str, bytes, str],
    message: str,
) -> None:
    settings.web.max_upload_bytes = 10_000
    answer = submit(client, "takedown", TAKEDOWN, DOCUMENTS | {role: upload})
    assert answer.status_code == 422
    words = {"wrong": "形式は受け付けられません", "empty": "空です", "large": "大きすぎます"}
    assert any(words[message] in alert for alert in alerts(answer.text))
    assert "添付ファイルは再度選択してください。" in answer.text
    assert count(factory, Document) == 0 and count(factory, FormUpload) == 0


@pytest.mark.parametrize(
    "eml",
    [b"\x00\x01binary\x00", PDF, zip_bomb(), b"just some words, no header\n"],
)
def test_an_eml_must_be_a_mail(
    client: TestClient, factory: sessionmaker[Session], eml: bytes
) -> None:
    answer = submit(
        client,
        "spam",
        {"reporter_email": "a@b.example"},
        {"eml": ("spam.eml", eml, "message/rfc822")},
    )
    assert answer.status_code == 422
    assert "メールファイル（.eml、ヘッダー付きのテキスト）を添付してください。" in alerts(
        answer.text
    )
    assert count(factory, Document) == 0


def test_a_body_over_the_forms_limit_is_refused_unread(
    client: TestClient, settings: Settings, factory: sessionmaker[Session]
) -> None:
    settings.web.max_upload_bytes = 1000
    huge = ABUSE | {"logs": "A" * (2 * 1024 * 1024)}
    answer = submit(client, "abuse", huge)
    assert answer.status_code == 413
    assert "送信内容が大きすぎます" in answer.text
    assert count(factory, Document) == 0


@pytest.mark.parametrize(
    ("name", "content", "stored"),
    [
        ("../../../etc/passwd.pdf", PDF, "passwd.pdf"),
        ("..\\..\\windows\\evil.html", PNG, "evil.png"),
        ("/abs/path/scan.jpeg", JPEG, "scan.jpg"),
        ("\u202egnp.exe\u200b.pdf", PDF, "gnp.exe.pdf"),
        ("..", PDF, "request_form.pdf"),
    ],
)
def test_file_names_are_reduced_to_a_base_name_matching_the_content(
    client: TestClient, factory: sessionmaker[Session], name: str, content: bytes, stored: str
) -> None:
    files = DOCUMENTS | {"request_form": (name, content, "application/octet-stream")}
    assert submit(client, "takedown", TAKEDOWN, files).status_code == 200
    with unit_of_work(factory) as session:
        names = set(session.scalars(select(FormUpload.filename)))
    assert stored in names


# -- attacker-controlled text, escaped everywhere -------------------------------------------------


@pytest.fixture
def operator(client: TestClient, factory: sessionmaker[Session], clock: Clock) -> str:
    """A logged-in operator's browser: the console's session cookie on the test client."""
    return login(client, factory, clock, "operator")


def login(client: TestClient, factory: sessionmaker[Session], clock: Clock, role: str) -> str:
    with unit_of_work(factory) as session:
        user = access.add_user(
            session, f"{role}-1", role, "correct horse battery", clock.now, actor="test"
        )
        opened = access.start_session(session, user, clock.now)
    client.cookies.set(SESSION_COOKIE, opened.token)
    return opened.csrf_token


@pytest.mark.usefixtures("examplenet")
def test_html_in_a_complaint_is_escaped_on_the_answer_page_and_in_the_console(
    client: TestClient, factory: sessionmaker[Session], clock: Clock
) -> None:
    fields = TAKEDOWN | {
        "requester_name": SCRIPT,
        "url": f"https://blog.sample.example.jp/{IMG}",
        "information": SCRIPT,
        "reason": IMG,
    }
    answer = submit(client, "takedown", fields, DOCUMENTS)
    assert answer.status_code == 200, alerts(answer.text)
    assert_escaped(answer.text)
    abuse = submit(
        client,
        "abuse",
        ABUSE | {"category": "other", "category_other": IMG, "details": SCRIPT, "logs": SCRIPT},
    )
    assert abuse.status_code == 200
    assert_escaped(abuse.text)
    csrf = login(client, factory, clock, "supervisor")
    with unit_of_work(factory) as session:
        cases = session.scalars(select(Case.id)).all()
    assert len(cases) == 2
    for case_id in cases:
        page = client.get(f"/cases/{case_id}")
        assert page.status_code == 200
        assert_escaped(page.text)
        for complaint_id in re.findall(r'id="complaint-(\d+)"', page.text):
            for part in ("evidence", "complainant"):
                shown = client.post(
                    f"/cases/{case_id}/complaints/{complaint_id}/{part}",
                    data={"csrf_token": csrf, "reason": "XSS test review"},
                )
                assert shown.status_code == 200
                assert_escaped(shown.text)
    assert_escaped(client.get("/outbox").text)


def assert_escaped(page: str) -> None:
    assert SCRIPT not in page and "<img src=x" not in page
    assert "<script>alert" not in page


# -- the operator's view of the files -----------------------------------------------------------


@pytest.mark.usefixtures("examplenet")
def test_files_are_listed_to_evidence_readers_and_downloaded_with_an_audited_reason(
    client: TestClient, factory: sessionmaker[Session], clock: Clock
) -> None:
    complaint_id = reference_of(submit(client, "takedown", TAKEDOWN, DOCUMENTS).text)
    with unit_of_work(factory) as session:
        case_id = session.get_one(CaseComplaint, complaint_id).case_id
        upload_id = session.scalars(
            select(FormUpload.id).where(FormUpload.role == "request_form")
        ).one()
    csrf = login(client, factory, clock, "operator")
    case_page = client.get(f"/cases/{case_id}").text
    section = f"/cases/{case_id}/complaints/{complaint_id}/uploads"
    assert f'hx-get="{section}"' in case_page
    listing = client.get(section)
    assert listing.status_code == 200
    assert "登録印を押印した送信防止措置依頼書" in listing.text
    assert "依頼書.pdf" not in listing.text  # the filer's file name is not shown in lists
    refused = client.post(
        f"{section}/{upload_id}", data={"csrf_token": csrf, "reason": "書類の確認"}
    )
    assert refused.status_code == 403  # a takedown's documents name the requester
    csrf = login(client, factory, clock, "supervisor")
    download = client.post(
        f"{section}/{upload_id}", data={"csrf_token": csrf, "reason": "書類の確認"}
    )
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["content-security-policy"]
    with unit_of_work(factory) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "download-form-upload")
        ).one()
        assert (entry.actor, entry.reason) == ("user:supervisor-1", "書類の確認")
    assert client.post(f"{section}/{upload_id}", data={"reason": "no token"}).status_code == 403
    assert (
        client.post(
            f"{section}/{upload_id + 99}", data={"csrf_token": csrf, "reason": "x" * 5}
        ).status_code
        == 404
    )


@pytest.mark.usefixtures("examplenet")
def test_roles_without_evidence_read_get_no_files(
    client: TestClient, factory: sessionmaker[Session], clock: Clock
) -> None:
    complaint_id = reference_of(submit(client, "takedown", TAKEDOWN, DOCUMENTS).text)
    with unit_of_work(factory) as session:
        case_id = session.get_one(CaseComplaint, complaint_id).case_id
        upload_id = session.scalars(select(FormUpload.id)).first()
    csrf = login(client, factory, clock, "privacy_officer")
    section = f"/cases/{case_id}/complaints/{complaint_id}/uploads"
    assert client.get(section).status_code == 403
    refused = client.post(f"{section}/{upload_id}", data={"csrf_token": csrf, "reason": "look"})
    assert refused.status_code == 403 and refused.content != PDF


def test_every_word_the_public_pages_use_is_in_both_languages() -> None:
    templates = Path(public_i18n.__file__).parent / "templates"
    used = {
        key
        for page in [*templates.glob("public/*.html"), templates / "console/_uploads.html"]
        for key in re.findall(r'\bt\("([a-z_.]+)"\s*[,)]', page.read_text(encoding="utf-8"))
    }
    used |= set(public_i18n.FIELD_LABELS.values()) | set(public_i18n.ROLE_LABELS.values())
    used |= {f"form.{kind}.title" for kind in ("takedown", "spam", "abuse")}  # built in pages
    known = set(public_i18n.MESSAGES) | set(i18n.MESSAGES)
    assert used - known == set()
    assert all(len(words) == 2 and all(words) for words in public_i18n.MESSAGES.values())


@pytest.mark.usefixtures("examplenet")
def test_a_form_sent_twice_is_one_complaint_with_one_receipt(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    first = submit(client, "takedown", TAKEDOWN, DOCUMENTS)
    again = submit(client, "takedown", TAKEDOWN, DOCUMENTS)
    assert reference_of(first.text) == reference_of(again.text)
    assert "同じ内容のお申し出は既に受け付けています。" in again.text
    assert count(factory, Complaint) == 1 and count(factory, FormUpload) == 2
    with unit_of_work(factory) as session:
        receipts = session.scalars(select(Notice).where(Notice.template == "intake.receipt"))
        assert len(receipts.all()) == 1
