"""Hostile documents through the services on a real database (SQLite, or PostgreSQL with
TRUSTDESK_TEST_DATABASE_URL): intake keeps every document (parsed, or failed with its reason)
and records what it read with its case; a registry import reports bad rows and keeps the good;
a fraud score answers or refuses. Nothing crashes, on either database (SPEC §1: bad input gets
a clear error and loses nothing)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.fuzz import mutations
from tests.fuzz.targets import NOW, TARGETS, text_lines
from trustdesk import db
from trustdesk.attribution.importing import import_lines
from trustdesk.cases.policy import load_policy
from trustdesk.cases.service import case_opener, reply_claimer
from trustdesk.fraud import merchants, service
from trustdesk.fraud.exceptions import FraudError
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.scoring import Scoring
from trustdesk.intake import service as intake
from trustdesk.intake.models import Document
from trustdesk.settings import Settings

FUZZ = settings.get_profile(os.environ.get("TRUSTDESK_FUZZ_PROFILE", "fuzz"))
# The service runs cost a transaction or two each: a third of the parsers' examples.
SERVICE = settings(FUZZ, max_examples=max(FUZZ.max_examples // 3, 10))
INTAKE = ("mail", "xarf", "shadowserver", "form_json")
FILENAMES = st.sampled_from([None, "2026-10-20-scan_telnet-asn-jp.csv", "x.csv.zip", "a.eml"])


def hostile_documents() -> st.SearchStrategy[bytes]:
    return st.one_of(*(mutations.variants(TARGETS[name]) for name in INTAKE), mutations.raw)


@pytest.mark.usefixtures("examplenet")
@SERVICE
@given(document=hostile_documents(), filename=FILENAMES)
def test_intake_keeps_every_hostile_document(
    factory: sessionmaker[Session], settings: Settings, document: bytes, filename: str | None
) -> None:
    now = NOW.astimezone(UTC)
    opener = case_opener(load_policy(settings.policy_file), settings.provider, now, "fuzz")
    claimer = reply_claimer(settings.provider, now, "fuzz")
    outcomes = intake.ingest(
        factory, settings, document, filename, now, "fuzz", opener, claim=claimer
    )
    assert outcomes
    digest = hashlib.sha256(document).hexdigest()
    with factory() as session:
        stored = session.scalars(select(Document).where(Document.sha256 == digest)).one()
    assert stored.content == document
    if stored.status == "failed":
        assert stored.error and stored.error.strip()
        assert [o.error for o in outcomes] == [stored.error]
    else:
        assert stored.status == "parsed"
        assert all(o.error is None for o in outcomes)


REGISTRY = {
    "subscribers": "registry_csv",
    "assignments": "registry_csv",
    "sites": "registry_csv",
    "radius": "radius",
    "cgnat": "cgnat",
}


@SERVICE
@given(data=st.data(), kind=st.sampled_from(sorted(REGISTRY)))
def test_a_hostile_registry_file_is_imported_row_by_row(
    factory: sessionmaker[Session], data: st.DataObject, kind: str
) -> None:
    content = data.draw(mutations.variants(TARGETS[REGISTRY[kind]]), label="file")
    with db.unit_of_work(factory) as session:
        report = import_lines(session, kind, text_lines(content), f"{kind}.fuzz")
    assert all(error.reason.strip() for error in report.errors)


@pytest.fixture
def merchant(factory: sessionmaker[Session]) -> int:
    with db.unit_of_work(factory) as session:
        return merchants.add_merchant(session, "fuzz shop", NOW).merchant_id


@SERVICE
@given(data=st.data())
def test_a_hostile_order_is_scored_or_refused(
    factory: sessionmaker[Session], settings: Settings, merchant: int, data: st.DataObject
) -> None:
    body = data.draw(mutations.variants(TARGETS["order"]) | mutations.raw, label="body")
    try:
        document = orjson.loads(body)
    except ValueError:
        return  # the API answers 400 (BodyNotJSON) before the service
    fraud = settings.fraud
    scoring = Scoring(Hasher(fraud.hash_key.get_secret_value()), 7, fraud.velocity_count_limit)
    try:
        with db.unit_of_work(factory) as session:
            answer = service.score(session.connection(), scoring, merchant, document, NOW)
    except FraudError as refused:
        assert str(refused).strip()
        return
    assert answer["order_id"] == document["order_id"].strip()
