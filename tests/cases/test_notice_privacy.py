"""A notice to a subscriber never contains the complainant's name, address, e-mail or
message-id unless the complainant consented (issue 3; seed 000 (3): 申告者さまの情報は開示いたしま
せん) — over every template, in both languages, rendered through the real service path (the
executor that builds the notice from the stored case, complaint and complainant)."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.test_notices import EVERY_NOTICE
from trustdesk.attribution.models import Subscriber
from trustdesk.cases.effects import TEMPLATES, SendNotice
from trustdesk.cases.executor import Rows, perform
from trustdesk.cases.facts import load_facts
from trustdesk.cases.models import Case, CaseComplaint, Notice
from trustdesk.cases.policy import Policy
from trustdesk.cases.service import workflow_of
from trustdesk.cases.steps import Step
from trustdesk.intake.models import ComplainantIdentity, Complaint, Document
from trustdesk.settings import ProviderSettings
from trustdesk.timeutil import JST

NOW = datetime(2026, 10, 20, 15, 0, tzinfo=JST)
PROVIDER = ProviderSettings(name="Example Net", abuse_mailbox="abuse@example.net")
# Text people write: Japanese, Latin, digits, punctuation, and what attackers add.
# (NUL aside: PostgreSQL text cannot hold it, and intake never stores it)
WRITTEN = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=40,
)


def marked(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """An identity value no random content reproduces: random text between two markers."""
    return core.map(lambda text: f"ID{secrets.token_hex(4)}{text}{secrets.token_hex(4)}")


@st.composite
def identities(draw: st.DrawFn) -> dict[str, object]:
    local = marked(st.from_regex(r"[a-z0-9.]{1,12}", fullmatch=True))
    return {
        "name": draw(marked(WRITTEN)),
        "email": f"{draw(local)}@complainant.example",
        "postal_address": draw(marked(WRITTEN)),
        "phone": draw(marked(st.from_regex(r"[0-9-]{6,13}", fullmatch=True))),
        "organisation": draw(marked(WRITTEN)),
        "message_id": f"<{draw(local)}@mx>",
        "consents_to_disclosure": draw(st.booleans()),
    }


@st.composite
def contents(draw: st.DrawFn) -> dict[str, object]:
    """What the complaint says: every field a notice may quote, written by the complainant."""
    return {
        "category": "内容" + draw(WRITTEN),
        "url": "https://site.example/" + draw(WRITTEN),
        "details": {
            "information": "掲載" + draw(WRITTEN),
            "reason": "理由" + draw(WRITTEN),
            "infringed_right": draw(
                st.sampled_from(["defamation", "privacy"]) | WRITTEN.map("権利".__add__)
            ),
            "election": draw(st.booleans()),
        },
        "source_ip": draw(st.ip_addresses().map(str)),
        "source_port": draw(st.none() | st.integers(0, 65535)),
    }


def _stage(
    session: Session, template: str, lang: str, who: dict[str, object], said: dict[str, object]
) -> Case:
    """A subscriber, a complaint with its complainant, and the case it opened, as stored."""
    kind = {"spam": "spam", "takedown": "takedown"}.get(template.split(".")[0], "abuse")
    subscriber = Subscriber(
        subscriber_id="C9001",
        name="受信 太郎",
        email="member@customer.example",
        lang=lang,
        monthly_fee_yen=3300,
        status="active",
    )
    document = Document(
        sha256=secrets.token_hex(32),
        filename="x",
        size=1,
        content=b"x",
        received_at=NOW,
        status="parsed",
    )
    session.add_all([subscriber, document])
    session.flush()
    complaint = Complaint(
        fingerprint=secrets.token_hex(32),
        document_id=document.id,
        received_at=NOW,
        kind=kind,
        source_format="form",
        observed_at=NOW - timedelta(hours=2),
        domain=None,
        in_network=True,
        subscriber_id="C9001",
        candidates=[],
        attribution={},
        warnings=[],
        # the complaint mail as evidence names the complainant: it must never be quoted
        evidence=f"From: {who['name']} <{who['email']}>\nMessage-ID: {who['message_id']}\n"
        f"{who['postal_address']} {who['phone']}",
        **said,
    )
    complaint.details = {**said["details"], "requester_email": who["email"]}  # type: ignore[dict-item]
    complaint.complainant = ComplainantIdentity(**who)
    workflow, device = workflow_of(kind)
    case = Case(
        workflow=workflow,
        kind=kind,
        state="under_review",
        closed=False,
        subscriber_id="C9001",
        opened_at=NOW,
        policy_version=Policy().version,
        policy=asdict(Policy()),
        rung=0,
        device=device,
        election=False,
    )
    session.add_all([complaint, case])
    session.flush()
    session.add(CaseComplaint(complaint_id=complaint.id, case_id=case.id, added_at=NOW))
    session.flush()
    return case


# Every notice a workflow step can send; the receipt goes to the complainant from intake.
WORKFLOW_NOTICES = [(name, lang) for name, lang in EVERY_NOTICE if name in TEMPLATES]


@pytest.mark.parametrize(("template", "lang"), WORKFLOW_NOTICES)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(who=identities(), said=contents())
def test_a_notice_to_the_subscriber_never_names_the_complainant(
    session: Session, template: str, lang: str, who: dict[str, object], said: dict[str, object]
) -> None:
    savepoint = session.begin_nested()
    try:
        case = _stage(session, template, lang, who, said)
        step = Step(
            "under_review", NOW + timedelta(days=3), (SendNotice(template, "subscriber"),), "test"
        )
        rows = Rows()
        perform(session, case, step, load_facts(session, [case])[case.id], NOW, PROVIDER, rows)
        rows.write(session)
        [notice] = session.scalars(select(Notice).where(Notice.case_id == case.id)).all()
        assert (notice.lang, notice.to_address) == (lang, "member@customer.example")
        shown = notice.subject + "\n" + notice.body
        # only the takedown inquiry may name a requester, and only one who consented
        secrets_ = ["email", "postal_address", "message_id", "phone", "organisation"]
        if not (template == "takedown.inquiry" and who["consents_to_disclosure"]):
            secrets_.append("name")
        for secret in secrets_:
            value = str(who[secret]).lstrip("<")
            # the whole value, and its marker (which survives any cleaning of the text)
            assert value not in shown and value[:10] not in shown, secret
        for part in (str(who["email"]).split("@")[0], str(who["message_id"]).strip("<>")):
            assert part not in shown
    finally:
        savepoint.rollback()
