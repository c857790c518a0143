"""trustdesk.fraud.order and .cards: what is refused before anything is scored or stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from trustdesk.fraud.cards import card_number_fields, contains_card_number, luhn_valid
from trustdesk.fraud.exceptions import OrderInvalid, OrderRefused
from trustdesk.fraud.order import parse_order, screen
from trustdesk.timeutil import JST

NOW = datetime(2026, 10, 20, 15, 0, tzinfo=JST)
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "４１１１１１１１１１１１１１１１",
        "card 5500005555555559 please",
        "378282246310005",  # American Express, 15 digits
        "6011000990139424",
        "2221000000000009",  # Mastercard's 2-series
        "3530111333300000",  # JCB
    ],
)
def test_full_card_numbers_are_found(value: str) -> None:
    assert contains_card_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111112",  # fails Luhn
        "090-1234-5678",
        "+81-90-1234-5678",
        "411111",
        "2026-10-20T10:15:00+09:00",
        "198.51.100.61",
        "41111111111111111111",  # 20 digits: no card has that many
        "EC-2026-000123",
        "1796163759121",  # a millisecond timestamp that passes Luhn: no network starts with 1
        "W-179616375902-127",
        "2000000000000006",  # Luhn-valid, but 2000 is outside Mastercard's 2221-2720
    ],
)
def test_other_digit_runs_are_not_cards(value: str) -> None:
    assert not contains_card_number(value)


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_card_numbers_are_found_in_any_field(order: dict[str, Any]) -> None:
    order["items"][0]["name"] = "gift for 4111 1111 1111 1111"
    order["payment"]["card_token"] = 4111111111111111
    assert list(card_number_fields(order)) == ["payment.card_token", "items[0].name"]


def test_numbers_of_any_size_are_searched(order: dict[str, Any]) -> None:
    """JSON numbers have no limit: one past 64 bits does not stop the search."""
    order["note"] = 10**30
    order["payment"]["card_token"] = 4111111111111111
    assert card_number_fields(order) == ["payment.card_token"]


def test_an_order_with_a_card_number_is_refused_without_echoing_it(order: dict[str, Any]) -> None:
    order["buyer"]["name"] = "4111111111111111"
    with pytest.raises(OrderRefused) as refused:
        parse_order(order)
    assert refused.value.code == "card_number"
    assert "buyer.name" in str(refused.value)
    assert "4111" not in str(refused.value)


def test_the_shared_fixture_is_a_valid_order(order: dict[str, Any]) -> None:
    parsed = parse_order(order)
    screen(parsed, NOW, WEEK)
    assert parsed.ordered_at == datetime(2026, 10, 20, 10, 15, tzinfo=JST)


@pytest.mark.parametrize("status", ["shipped", "delivered", "partially_shipped", "Delivered"])
def test_fulfilled_orders_are_refused(order: dict[str, Any], status: str) -> None:
    """Seed 004 §17-2-3: only orders not yet fulfilled, delivery included."""
    order["fulfillment_status"] = status
    with pytest.raises(OrderRefused) as refused:
        screen(parse_order(order), NOW, WEEK)
    assert refused.value.code == "order_fulfilled"
    assert "§17-2-3" in str(refused.value)


def test_orders_older_than_the_window_are_refused(order: dict[str, Any]) -> None:
    order["ordered_at"] = "2026-10-13T14:59:00+09:00"
    with pytest.raises(OrderRefused) as refused:
        screen(parse_order(order), NOW, WEEK)
    assert refused.value.code == "order_too_old"
    order["ordered_at"] = "2026-10-13T15:01:00+09:00"
    screen(parse_order(order), NOW, WEEK)


def test_orders_from_the_future_are_invalid(order: dict[str, Any]) -> None:
    order["ordered_at"] = "2026-10-20T16:00:00+09:00"
    with pytest.raises(OrderInvalid):
        screen(parse_order(order), NOW, WEEK)


@pytest.mark.parametrize(
    ("field", "value"),
    [("country", "US"), ("country", "United States"), ("prefecture", "California")],
)
def test_addresses_outside_japan_are_refused(order: dict[str, Any], field: str, value: str) -> None:
    """Seed 004 §18: the service area is Japan."""
    order["shipping_address"][field] = value
    with pytest.raises(OrderRefused) as refused:
        screen(parse_order(order), NOW, WEEK)
    assert refused.value.code == "outside_japan"
    assert "shipping_address" in str(refused.value)


@pytest.mark.parametrize("country", ["JP", "jp", "Japan", "日本"])
def test_japan_may_be_spelled_several_ways(order: dict[str, Any], country: str) -> None:
    order["billing_address"]["country"] = country
    screen(parse_order(order), NOW, WEEK)


def test_a_time_without_offset_is_invalid(order: dict[str, Any]) -> None:
    order["ordered_at"] = "2026-10-20T10:15:00"
    with pytest.raises(OrderInvalid, match="ordered_at"):
        parse_order(order)


def test_validation_errors_name_fields_but_not_values(order: dict[str, Any]) -> None:
    del order["buyer"]["email"]
    order["amount_yen"] = "secret-ish"
    with pytest.raises(OrderInvalid) as invalid:
        parse_order(order)
    assert "buyer.email" in str(invalid.value) and "amount_yen" in str(invalid.value)
    assert "secret-ish" not in str(invalid.value)


def test_an_unknown_fulfillment_status_is_invalid(order: dict[str, Any]) -> None:
    order["fulfillment_status"] = "teleported"
    with pytest.raises(OrderInvalid, match="fulfillment_status"):
        parse_order(order)
