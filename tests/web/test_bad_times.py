"""A complaint's time out of bounds over the web (issue 17): the abuse form at
0001-01-01T00:00+14:00 answered 500 (OverflowError) and left its document pending for ever.
Now the form shows the field's message with 422 before anything is stored, and the API answers
422 with the reason, its document kept as failed."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.web.conftest import ApiKeyFor
from tests.web.test_public_forms import ABUSE, alerts, count, submit
from trustdesk.db import unit_of_work
from trustdesk.intake.models import Document

pytestmark = pytest.mark.usefixtures("examplenet")


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00+14:00", "2026-10-22T16:00"])
def test_the_abuse_form_refuses_a_time_out_of_bounds_next_to_the_field(
    client: TestClient, factory: sessionmaker[Session], occurred_at: str
) -> None:
    """The clock of ``client`` reads 2026-10-20 15:00 JST: 10-22 16:00 is over a day ahead."""
    answer = submit(client, "abuse", ABUSE | {"occurred_at": occurred_at})
    assert answer.status_code == 422
    assert "日時は1970年以降、現在から1日以内で入力してください。" in alerts(answer.text)
    assert f'value="{occurred_at}"' in answer.text
    assert count(factory, Document) == 0


def test_the_api_answers_422_with_the_reason_and_keeps_the_document_failed(
    client: TestClient, api_key: ApiKeyFor, factory: sessionmaker[Session]
) -> None:
    form = {
        "kind": "abuse",
        "reporter": {"email": "soc@victim.example"},
        "ip": "198.51.100.45",
        "occurred_at": "0001-01-01T00:00+14:00",
        "category": "attack",
        "details": "SSH brute force",
    }
    answer = client.post("/api/v1/complaints", json=form, headers=api_key("operator"))
    assert answer.status_code == 422
    assert answer.json()["error"] == "unparseable"
    assert "before 1970" in answer.json()["detail"]
    with unit_of_work(factory) as session:
        [(status, error)] = session.execute(select(Document.status, Document.error)).all()
    assert status == "failed" and "before 1970" in error
    again = client.post(
        "/api/v1/complaints",
        json=form | {"occurred_at": "2026-10-20T12:00+09:00"},
        headers=api_key("operator"),
    )
    assert again.status_code == 201, json.dumps(again.json())
