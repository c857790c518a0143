"""What rules see of other merchants' orders (issue 17, seed 004 §37: merchants' data is
confidential): a coarse signal that needs three other merchants, never a count a merchant could
probe with its rules, in scores and in backtests alike."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.fraud.conftest import MakeMerchant, ScoreOrder
from trustdesk import db
from trustdesk.fraud import features, rulesets, service
from trustdesk.fraud.merchants import get_merchant
from trustdesk.fraud.models import ScoredOrder
from trustdesk.fraud.rules import RuleSetInvalid


def placed(order: dict[str, Any], order_id: str, email: str, clock: Clock) -> dict[str, Any]:
    """The fixture order with another id and e-mail, placed ten minutes before now."""
    document = copy.deepcopy(order)
    document["order_id"] = order_id
    document["buyer"]["email"] = email
    document["ordered_at"] = (clock.now - timedelta(minutes=10)).isoformat()
    return document


def velocity_of(factory: sessionmaker[Session], merchant_id: int, order_id: str) -> Any:
    """What the rules were handed about the order's e-mail."""
    with db.unit_of_work(factory) as session:
        return service.get_order(session, merchant_id, order_id).features["velocity"]["email"]


def test_the_signal_needs_three_other_merchants_and_not_the_merchants_own_orders(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    prober = make_merchant("Prober")
    shops = [make_merchant(f"Shop {n}") for n in range(3)]
    email = "buyer@mail.example.jp"
    for n, shop in enumerate(shops[:2]):
        score(shop.merchant_id, placed(order, f"S-{n}", email, clock))
    score(prober.merchant_id, placed(order, "OWN", email, clock))  # its own orders never count
    before = score(prober.merchant_id, placed(order, "P-1", email, clock))
    assert velocity_of(factory, prober.merchant_id, "P-1") == {
        "h1": 1,
        "d1": 1,
        "d30": 1,
    } | dict.fromkeys(features.ELSEWHERE, False)
    assert "email_burst" not in {reason.get("rule") for reason in before["reasons"]}

    score(shops[2].merchant_id, placed(order, "S-2", email, clock))
    after = score(prober.merchant_id, placed(order, "P-2", email, clock))
    assert velocity_of(factory, prober.merchant_id, "P-2") == {
        "h1": 2,
        "d1": 2,
        "d30": 2,
    } | dict.fromkeys(features.ELSEWHERE, True)
    assert "email_burst" in {reason.get("rule") for reason in after["reasons"]}


PROBES = [
    "velocity.email.elsewhere_h1",
    "velocity.email.elsewhere_d1",
    "velocity.email.elsewhere_d30",
    "size(velocity.email) != 6",
    "velocity.email.exists(k, k.startsWith('all'))",
    "velocity['email'].exists(k, k == 'all_d30')",
    "velocity.email.d30 >= 1",
    "known.any",
]


@pytest.mark.parametrize(
    "probe",
    [
        "velocity.email.all_d30 - velocity.email.d30 >= 1",
        "velocity.email['all_d30'] >= 2",
        "velocity['email']['all_h1'] == 1",
    ],
)
def test_a_rule_reading_counts_of_every_merchant_is_refused(
    factory: sessionmaker[Session], make_merchant: MakeMerchant, clock: Clock, probe: str
) -> None:
    prober = make_merchant("Prober")
    document = {"rules": [{"name": "probe", "expression": probe, "weight": 1}]}
    with db.unit_of_work(factory) as session, pytest.raises(RuleSetInvalid) as refused:
        rulesets.create_version(
            session, get_merchant(session, prober.merchant_id), document, clock()
        )
    assert "was removed: rules no longer see counts of every merchant's orders" in str(
        refused.value
    )


def test_a_merchant_cannot_tell_one_order_elsewhere_from_two(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    """The prober's rules try every way left to read the e-mail's orders elsewhere; the
    answers for an e-mail with one order at another merchant, with two at one merchant and
    with one at each of two merchants are the same, and so is all the rules were handed."""
    prober, shop_a, shop_b = (make_merchant(name) for name in ("Prober", "Shop A", "Shop B"))
    document = {"rules": [{"name": p, "expression": p, "weight": 1} for p in PROBES]}
    with db.unit_of_work(factory) as session:
        merchant = get_merchant(session, prober.merchant_id)
        version = rulesets.create_version(session, merchant, document, clock()).version
        rulesets.activate(session, merchant, version, clock())
    worlds = {
        "one1@mail.example.jp": [shop_a],
        "two2@mail.example.jp": [shop_a, shop_a],
        "tri3@mail.example.jp": [shop_a, shop_b],
    }
    answers, handed = [], []
    for email, shops in worlds.items():
        for n, shop in enumerate(shops):
            score(shop.merchant_id, placed(order, f"{email}-{n}", email, clock))
        answer = score(prober.merchant_id, placed(order, f"P-{email}", email, clock))
        answers.append({key: answer[key] for key in ("score", "band", "reasons")})
        handed.append(velocity_of(factory, prober.merchant_id, f"P-{email}"))
    assert answers[0] == answers[1] == answers[2]
    assert handed[0] == handed[1] == handed[2]


def test_a_backtest_hands_rules_nothing_an_older_stored_order_held_beyond_the_environment(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    """Orders scored before issue 17 stored the counts of every merchant among their
    features; a backtest over them hands rules the environment of today, nothing more."""
    shop = make_merchant("Shop A")
    score(shop.merchant_id, order)
    with db.unit_of_work(factory) as session:
        stored = session.scalar(select(ScoredOrder.features))
        assert stored is not None
        for counts in stored["velocity"].values():
            for window in features.WINDOWS:
                del counts[f"elsewhere_{window}"]
                counts[f"all_{window}"] = 2
        session.execute(update(ScoredOrder).values(features=stored))
    probe = {
        "rules": [
            {
                "name": "counts",
                "expression": "velocity.email.exists(k, k.startsWith('all'))",
                "band": "高",
            },
            {"name": "shape", "expression": "size(velocity.email) != 6", "band": "高"},
        ]
    }
    with db.unit_of_work(factory) as session:
        merchant = get_merchant(session, shop.merchant_id)
        version = rulesets.create_version(session, merchant, probe, clock()).version
        result = rulesets.backtest(session, merchant, version)
    assert result["orders"] == 1 and result["bands_after"] == {"低": 1}
