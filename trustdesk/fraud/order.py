"""An order as a merchant sends it, read and screened before it is scored.

Screening refuses what the service must not score, each with its own error code:
- a full card number anywhere (``card_number``): refused before the order is even parsed, so
  it is neither stored nor echoed back in a validation error;
- an order already shipped or delivered, or older than the merchant's window
  (``order_fulfilled``, ``order_too_old``; seed 004 §17-2-3: not yet fulfilled orders only);
- an order outside Japan (``outside_japan``; seed 004 §18: the service area is Japan).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trustdesk.fraud.addresses import prefecture_of
from trustdesk.fraud.cards import card_number_fields
from trustdesk.fraud.exceptions import OrderInvalid, OrderRefused
from trustdesk.timeutil import require_computable

UNFULFILLED = frozenset({"unfulfilled", "pending", "processing", "authorized"})
FULFILLED = frozenset({"shipped", "partially_shipped", "delivered", "fulfilled", "completed"})
JAPAN = frozenset({"jp", "jpn", "japan", "日本", "日本国"})
FUTURE_SKEW = timedelta(minutes=10)
# Amounts are whole yen in an integer column: about 2.1 billion yen, far beyond any order.
MAX_YEN = 2**31 - 1


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Buyer(_Part):
    name: str = Field(min_length=1, max_length=200)
    kana: str | None = Field(None, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    phone: str | None = Field(None, max_length=40)
    birth_date: date | None = None


class PostalAddress(_Part):
    postal_code: str = Field(max_length=20)
    prefecture: str = Field(max_length=40)
    city: str = Field("", max_length=100)
    street: str = Field(max_length=300)
    building: str = Field("", max_length=300)
    country: str = Field("JP", max_length=60)
    name: str | None = Field(None, max_length=200, description="Recipient, if not the buyer")
    kana: str | None = Field(None, max_length=200)


class Payment(_Part):
    method: str = Field(max_length=40)
    card_bin: str | None = Field(None, pattern=r"^[0-9]{6,8}$")
    card_last4: str | None = Field(None, pattern=r"^[0-9]{4}$")
    card_token: str | None = Field(None, max_length=200)
    card_hash: str | None = Field(None, max_length=200)


class Item(_Part):
    sku: str = Field("", max_length=100)
    name: str = Field("", max_length=300)
    quantity: int = Field(1, ge=1, le=100000)
    unit_price_yen: int = Field(0, ge=0, le=MAX_YEN)


class Order(_Part):
    order_id: str = Field(min_length=1, max_length=64)
    ordered_at: datetime
    amount_yen: int = Field(ge=0, le=MAX_YEN)
    fulfillment_status: str = "unfulfilled"
    buyer: Buyer
    billing_address: PostalAddress
    shipping_address: PostalAddress
    ip: str | None = Field(None, max_length=64)
    device_id: str | None = Field(None, max_length=200)
    user_agent: str | None = Field(None, max_length=1000)
    payment: Payment
    items: list[Item] = Field(default_factory=list, max_length=1000)

    @field_validator("ordered_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("ordered_at needs a UTC offset, e.g. 2026-10-20T10:15:00+09:00")
        return require_computable(value)

    @field_validator("fulfillment_status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        status = value.strip().lower()
        if status not in UNFULFILLED | FULFILLED:
            known = ", ".join(sorted(UNFULFILLED | FULFILLED))
            raise ValueError(f"unknown fulfillment_status {value!r}; one of {known}")
        return status


def parse_order(document: Any) -> Order:
    """Read a parsed JSON document as an order, refusing card numbers first."""
    if not isinstance(document, dict):
        raise OrderInvalid("the order must be a JSON object")
    fields = list(card_number_fields(document))
    if fields:
        raise OrderRefused(
            "card_number",
            f"a full card number was found in {', '.join(fields)}; send only card_bin, "
            "card_last4 and a card_token — the order was not stored",
        )
    try:
        return Order.model_validate(document)
    except ValidationError as exc:
        raise OrderInvalid(_problems(exc)) from None


def _problems(exc: ValidationError) -> str:
    """Field paths and messages, without the values sent (they may be personal data)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(order)"
        lines.append(f"{where}: {error['msg']}")
    return "; ".join(lines)


def screen(order: Order, now: datetime, window: timedelta) -> None:
    """Refuse an order the service may not score (see the module docstring)."""
    screen_order(order, now)
    screen_age(order, now, window)


def screen_age(order: Order, now: datetime, window: timedelta) -> None:
    """Refuse an order placed before the merchant's ``window`` (seed 004 §17-2-3)."""
    if order.ordered_at < now - window:
        raise OrderRefused(
            "order_too_old",
            f"order {order.order_id} was placed {order.ordered_at.isoformat()}, more than "
            f"{window.days} days ago; past orders may not be scored (seed 004 §17-2-3)",
        )


def screen_order(order: Order, now: datetime) -> None:
    """What every merchant's order must pass, whatever its window: not fulfilled, not in the
    future, in Japan. The score checks this before it asks the database anything."""
    if order.fulfillment_status in FULFILLED:
        raise OrderRefused(
            "order_fulfilled",
            f"order {order.order_id} is {order.fulfillment_status}; the service scores only "
            "orders not yet fulfilled, shipping included (seed 004 §17-2-3)",
        )
    if order.ordered_at > now + FUTURE_SKEW:
        raise OrderInvalid(f"ordered_at {order.ordered_at.isoformat()} is in the future")
    for label, address in (
        ("billing_address", order.billing_address),
        ("shipping_address", order.shipping_address),
    ):
        if address.country.strip().lower() not in JAPAN:
            raise OrderRefused(
                "outside_japan",
                f"{label}.country is {address.country!r}; the service covers Japan only "
                "(seed 004 §18)",
            )
        if not prefecture_of(address.prefecture or address.city):
            raise OrderRefused(
                "outside_japan",
                f"{label}.prefecture {address.prefecture!r} is not a Japanese prefecture; the "
                "service covers Japan only (seed 004 §18)",
            )
