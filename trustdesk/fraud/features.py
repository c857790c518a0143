"""An order's features: the values merchants' rules read (seed 004 §17-1-3), built purely.

Four groups, each a map with every key always present (a rule never fails on a missing key):
- ``order``: the order itself, normalised (amount, items, e-mail domain, phone kind, postal
  code checks, billing = shipping, hour in JST...);
- ``known``: whether each value is in the shared known-fraud database (seed 004 §17-1-2);
- ``velocity``: per e-mail, phone, (shipping) address, device, card and IP, how many earlier
  orders at this merchant carried the same value in the last hour, day and 30 days (``h1``,
  ``d1``, ``d30``), and whether orders at several other merchants did (``elsewhere_h1``,
  ``elsewhere_d1``, ``elsewhere_d30``: true from ``ELSEWHERE_MERCHANTS`` other merchants);
- ``history``: this merchant's earlier orders with the same e-mail confirmed legitimate.

What other merchants saw reaches a rule only as that coarse signal (seed 004 §37: merchants'
data is confidential): a count of orders elsewhere, or a threshold the merchant chose, would
let a merchant test, order by order and through the rules that fired, whether a buyer shops
at another merchant (docs/fraud.md, "Cross-merchant signal"). :data:`RULE_ENVIRONMENT`
declares every variable a rule reads; nothing else is handed to a rule, also in backtests
over orders stored before (:func:`rule_context`).

The database work that fills ``known`` and ``velocity`` is in :mod:`trustdesk.fraud.lookups`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trustdesk.fraud import normalize
from trustdesk.fraud.addresses import Address, NormalAddress, normalise
from trustdesk.fraud.order import Order, PostalAddress
from trustdesk.timeutil import to_jst

VELOCITY_KINDS = ("email", "phone", "address", "device", "card", "ip")
WINDOWS = ("h1", "d1", "d30")
ELSEWHERE = tuple(f"elsewhere_{window}" for window in WINDOWS)
# seed 004 §37: the cross-merchant signal needs this many other merchants (a k-anonymity floor:
# no single merchant's — nor two merchants' — customers can be told from it).
ELSEWHERE_MERCHANTS = 3
# The longest string a rule reads (Order.user_agent's limit); the rules' cost bound counts on it.
TEXT_LIMIT = 1000
KNOWN_FIELDS = ("email", "phone", "billing_address", "shipping_address", "device", "card", "ip")
# The kind of value each known-fraud field is matched as: both addresses against one list.
KNOWN_KIND = {name: "address" if name.endswith("_address") else name for name in KNOWN_FIELDS}
# The field whose value velocity counts for each kind: the shipping address is where goods go.
# Its known-fraud hash is the velocity key (same kind, same value).
VELOCITY_FIELD = {
    kind: "shipping_address" if kind == "address" else kind for kind in VELOCITY_KINDS
}
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "yahoo.co.jp",
        "ymail.ne.jp",
        "outlook.jp",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.jp",
        "live.jp",
        "icloud.com",
        "me.com",
        "aol.com",
        "yandex.ru",
        "mail.ru",
        "protonmail.com",
        "proton.me",
    }
)
_KATAKANA = re.compile(r"[ァ-ヴー]+")


@dataclass(frozen=True)
class Normalised:
    """The normalised values of one order: what matches and counts compare."""

    email: str | None
    phone: normalize.Phone | None
    billing: NormalAddress
    shipping: NormalAddress
    device: str | None
    card: str | None
    ip: str | None

    def values(self) -> dict[str, str | None]:
        """Known-fraud fields and their values (an address by its key)."""
        return {
            "email": self.email,
            "phone": self.phone.e164 if self.phone else None,
            "billing_address": self.billing.key,
            "shipping_address": self.shipping.key,
            "device": self.device,
            "card": self.card,
            "ip": self.ip,
        }


ORDER_FIELDS: dict[str, type] = {
    "amount_yen": int,
    "item_count": int,
    "quantity": int,
    "max_unit_price_yen": int,
    "payment_method": str,
    "card_bin": str,
    "has_card_token": bool,
    "hour_jst": int,
    "weekday_jst": int,
    "email_valid": bool,
    "email_domain": str,
    "email_free": bool,
    "email_tagged": bool,
    "email_digits": int,
    "has_phone": bool,
    "phone_kind": str,
    "phone_region": str,
    "buyer_age": int,
    "kana_valid": bool,
    "billing_prefecture": str,
    "shipping_prefecture": str,
    "billing_postal_matches": bool,
    "shipping_postal_matches": bool,
    "shipping_postal_known": bool,
    "billing_equals_shipping": bool,
    "recipient_differs": bool,
    "has_ip": bool,
    "ip_version": int,
    "has_device": bool,
    "user_agent": str,
}
# Every variable a rule may read, with the type of its value (seed 004 §17-1-3; docs/fraud.md).
RULE_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "order": ORDER_FIELDS,
    "known": dict.fromkeys((*KNOWN_FIELDS, "address", "any"), bool) | {"count": int},
    "velocity": {
        kind: dict.fromkeys(WINDOWS, int) | dict.fromkeys(ELSEWHERE, bool)
        for kind in VELOCITY_KINDS
    },
    "history": {"legitimate_d30": int},
}


def rule_context(stored: Any, environment: dict[str, Any] = RULE_ENVIRONMENT) -> dict[str, Any]:
    """``stored`` features as rules read them: exactly the variables of the environment, each
    of its type (the type's zero where a value is missing or of another type), strings cut at
    ``TEXT_LIMIT``. A backtest reads features stored by earlier versions of the service, whose
    velocity held the raw counts of all merchants: those never reach a rule."""
    given: dict[str, Any] = stored if isinstance(stored, dict) else {}
    context: dict[str, Any] = {}
    for name, kind in environment.items():
        value = given.get(name)
        if isinstance(kind, dict):
            context[name] = rule_context(value, kind)
        elif isinstance(value, str) and kind is str:
            context[name] = value[:TEXT_LIMIT]
        else:
            context[name] = value if type(value) is kind else kind()
    return context


@dataclass(frozen=True)
class Lookups:
    """What the database said about an order's values."""

    known: dict[str, list[str]] = field(default_factory=dict)  # field → sources
    # kind → this merchant's counts by window and the cross-merchant signal (ELSEWHERE)
    velocity: dict[str, dict[str, int | bool]] = field(default_factory=dict)
    legitimate_d30: int = 0


def _address(value: PostalAddress) -> NormalAddress:
    return normalise(
        Address(value.postal_code, value.prefecture, value.city, value.street, value.building)
    )


def normalise_order(order: Order) -> Normalised:
    card = order.payment.card_token or order.payment.card_hash
    return Normalised(
        email=normalize.email(order.buyer.email),
        phone=normalize.phone_details(order.buyer.phone) if order.buyer.phone else None,
        billing=_address(order.billing_address),
        shipping=_address(order.shipping_address),
        device=normalize.token(order.device_id),
        card=normalize.token(card),
        ip=normalize.ip_key(order.ip) if order.ip else None,
    )


def _age(birth: date | None, on: date) -> int:
    if birth is None:
        return -1
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _order_group(order: Order, values: Normalised) -> dict[str, Any]:
    local = to_jst(order.ordered_at)
    email = values.email
    domain = normalize.email_domain(email)
    phone = values.phone
    kana = normalize.kana_name(order.buyer.kana) if order.buyer.kana else None
    recipient = order.shipping_address.name
    return {
        "amount_yen": order.amount_yen,
        "item_count": len(order.items),
        "quantity": sum(item.quantity for item in order.items),
        "max_unit_price_yen": max((item.unit_price_yen for item in order.items), default=0),
        "payment_method": order.payment.method.lower(),
        "card_bin": order.payment.card_bin or "",
        "has_card_token": values.card is not None,
        "hour_jst": local.hour,
        "weekday_jst": local.weekday(),
        "email_valid": email is not None,
        "email_domain": domain,
        "email_free": domain in FREE_MAIL,
        "email_tagged": "+" in order.buyer.email,
        "email_digits": sum(c.isdigit() for c in (email or "").split("@")[0]),
        "has_phone": phone is not None,
        "phone_kind": phone.kind if phone else "none",
        "phone_region": phone.region if phone else "",
        "buyer_age": _age(order.buyer.birth_date, local.date()),
        "kana_valid": kana is not None and _KATAKANA.fullmatch(kana) is not None,
        "billing_prefecture": values.billing.prefecture,
        "shipping_prefecture": values.shipping.prefecture,
        "billing_postal_matches": values.billing.postal_matches is True,
        "shipping_postal_matches": values.shipping.postal_matches is True,
        "shipping_postal_known": values.shipping.postal_matches is not None,
        "billing_equals_shipping": values.billing.key == values.shipping.key,
        "recipient_differs": recipient is not None
        and normalize.person_name(recipient) != normalize.person_name(order.buyer.name),
        "has_ip": values.ip is not None,
        "ip_version": 0 if values.ip is None else (6 if ":" in values.ip else 4),
        "has_device": values.device is not None,
        "user_agent": (order.user_agent or "")[:TEXT_LIMIT],
    }


def build(order: Order, values: Normalised, lookups: Lookups) -> dict[str, Any]:
    """The rule context of one order."""
    known = {name: name in lookups.known for name in KNOWN_FIELDS}
    known["address"] = known["billing_address"] or known["shipping_address"]
    known["any"] = any(known[name] for name in KNOWN_FIELDS)
    known_count: int = sum(1 for name in KNOWN_FIELDS if known[name])
    empty: dict[str, int | bool] = dict.fromkeys(WINDOWS, 0) | dict.fromkeys(ELSEWHERE, False)
    velocity = {kind: empty | lookups.velocity.get(kind, {}) for kind in VELOCITY_KINDS}
    return {
        "order": _order_group(order, values),
        "known": known | {"count": known_count},
        "velocity": velocity,
        "history": {"legitimate_d30": lookups.legitimate_d30},
    }
