"""Fixtures of the fraud tests: the shared sample order, merchants with keys, scoring."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FIXTURES, Clock
from trustdesk import db
from trustdesk.fraud import merchants, service
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.scoring import Scoring
from trustdesk.settings import Settings

ORDER = json.loads((FIXTURES / "fraud" / "order.json").read_text(encoding="utf-8"))


def nested_all(depth: int, items: int = 10) -> str:
    """The hostile rule of issue 17: ``all()`` inside ``all()``, ``depth`` deep, over lists of
    ``items``, its loop variables named after the groups as the old check let them be (seven
    over ten items held the process 5.7 s; twenty stopped it for good)."""
    over = "[" + ", ".join(map(str, range(items))) + "]"
    names = ("order", "known", "velocity", "history")
    expression = "order == order"
    for level in range(depth):
        expression = f"{over}.all({names[level % 4]}, {expression})"
    return expression


@pytest.fixture
def order() -> dict[str, Any]:
    """A fresh copy of tests/fixtures/fraud/order.json (placed 10:15 JST on 2026-10-20)."""
    return copy.deepcopy(ORDER)


@pytest.fixture
def scoring(settings: Settings) -> Scoring:
    fraud = settings.fraud
    return Scoring(Hasher(fraud.hash_key.get_secret_value()), 7, fraud.velocity_count_limit)


MakeMerchant = Callable[[str], merchants.NewMerchant]


@pytest.fixture
def make_merchant(factory: sessionmaker[Session], clock: Clock) -> MakeMerchant:
    """Add a merchant (committed) and return its id and API key."""

    def make(name: str) -> merchants.NewMerchant:
        with db.unit_of_work(factory) as session:
            return merchants.add_merchant(session, name, clock())

    return make


ScoreOrder = Callable[..., dict[str, Any]]


@pytest.fixture
def score(factory: sessionmaker[Session], scoring: Scoring, clock: Clock) -> ScoreOrder:
    """Score a document for a merchant in its own committed transaction."""

    def run(merchant_id: int, document: dict[str, Any]) -> dict[str, Any]:
        with db.unit_of_work(factory) as session:
            return service.score(session.connection(), scoring, merchant_id, document, clock())

    return run
