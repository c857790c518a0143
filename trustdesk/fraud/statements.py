"""The statements a score runs, written in Core and run on the driver (``db.DriverStatement``).

A score is two statements (bench/fraud.py, the hot path): one read, ``READ_BY_KEY`` (the API)
or ``READ_BY_MERCHANT`` (the CLI), and one ``INSERT_ORDER``. The read answers at once

- the merchant: the key's hash to check (seed 004 §33), the order window, the active rule set,
  and any result already stored for the order id (a merchant retrying after a time-out);
- the known-fraud sources of each of the order's value hashes (§17-1-2);
- for each kind of value, the earlier orders with the same one in the last hour, day and 30
  days at this merchant, how many other merchants had such orders in each window (turned into
  the coarse cross-merchant signal by ``lookups.read``: §37), and this merchant's orders with
  the e-mail found legitimate (§17-1-3).

as ``WITH merchant AS (...) SELECT merchant.*, found.* FROM merchant LEFT JOIN (known UNION
ALL velocity) AS found ON true``: every row carries the merchant's columns (one row with an
empty ``found`` when nothing was), and an unknown or revoked key gives no row at all. The
velocity part joins the ``merchant`` CTE itself to tell this merchant's orders, so the
statement needs no LATERAL (SQLite has none), and the key needs no statement of its own: a
round trip and about 0.1 ms of the worker's CPU fewer a score.

The rest run only now and then: ``KEY`` checks a key when the order is refused before the read
(an unknown caller learns nothing about its order), ``RULES`` reads a rule set a process has
not compiled yet, ``EARLIER`` the result a concurrent request stored first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    LargeBinary,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from trustdesk.db import DriverStatement
from trustdesk.fraud.features import VELOCITY_KINDS
from trustdesk.fraud.merchants import KEY_ROW
from trustdesk.fraud.models import KnownFraud, Merchant, MerchantKey, RuleSetVersion, ScoredOrder

WINDOWS = ("h1", "d1", "d30")
# This merchant's orders by window, then the other merchants that had such orders by window.
COUNTS = ("h1", "d1", "d30", "others_h1", "others_d1", "others_d30")
# The parameters that carry the order's value hashes: one for each kind velocity counts (the
# shipping address is "address") and the billing address, which only known fraud matches.
HASHED = (*VELOCITY_KINDS, "billing_address")

# Constants written into the SQL, not sent as parameters: SQLAlchemy binds a literal 1 as a
# parameter, and the lookup had 82 of them for psycopg to dump on every score.
_ONE, _ZERO = literal_column("1", Integer), literal_column("0", Integer)


# A result stored for the order id: what a merchant sent again is answered with
_STORED_RESULT = (
    ScoredOrder.order_id,
    ScoredOrder.score,
    ScoredOrder.band,
    ScoredOrder.reasons,
    ScoredOrder.rules_version,
    ScoredOrder.scored_at,
    ScoredOrder.payload_hash,
)


def _merchant(by_key: bool) -> Select[Any]:
    """The merchant's row: found by the presented key's id (the API) or by its id (the CLI),
    with its active rule set and any result stored for the order id."""
    query = (
        select(
            Merchant.id.label("merchant_id"),
            Merchant.order_window_days,
            RuleSetVersion.id.label("rule_set_id"),
            RuleSetVersion.version,
            RuleSetVersion.fingerprint,
            *_STORED_RESULT,
        )
        .select_from(Merchant)
        .join(
            RuleSetVersion,
            (RuleSetVersion.merchant_id == Merchant.id)
            & (RuleSetVersion.version == Merchant.active_version),
        )
        .outerjoin(
            ScoredOrder,
            (ScoredOrder.merchant_id == Merchant.id)
            & (ScoredOrder.order_id == bindparam("order_id")),
        )
    )
    if not by_key:
        return query.where(Merchant.id == bindparam("merchant_id"))
    return (
        query.add_columns(MerchantKey.secret_hash)
        .join(MerchantKey, MerchantKey.merchant_id == Merchant.id)
        .where(MerchantKey.key_id == bindparam("key_id"), MerchantKey.revoked_at.is_(None))
    )


def _count(*conditions: Any) -> Any:
    return func.sum(case((and_(*conditions), _ONE), else_=_ZERO), type_=Integer)


def _merchants(merchant_id: Any, *conditions: Any) -> Any:
    """How many merchants' orders meet ``conditions``."""
    return func.count(distinct(case((and_(*conditions), merchant_id))), type_=Integer)


def _part(name: str) -> Any:
    assert name.isalpha()  # written into the SQL as it is
    return literal_column(f"'{name}'", String).label("part")


def _known() -> Select[Any]:
    """The known-fraud entries of any of the order's values (a value it lacks is NULL)."""
    nothing = (cast(null(), Integer).label(name) for name in (*COUNTS, "legitimate"))
    return (
        select(_part("known"), KnownFraud.key_hash, KnownFraud.source)
        .add_columns(*nothing)
        .where(KnownFraud.key_hash.in_([bindparam(name) for name in HASHED]))
        .distinct()
    )


def _recent(kind: str) -> Select[Any]:
    """The newest orders of the 30 days with the order's value of ``kind``: at most
    ``count_limit``, newest first, down the value's index. A value on tens of thousands of
    orders — a carrier's shared address, a forwarding warehouse — would otherwise cost a score
    time in proportion (20–36 ms of PostgreSQL at 54,000, bench/RESULTS.md). Below the limit
    every count is exact; at it, the counts are of those newest orders."""
    newest = (
        select(_part(kind), ScoredOrder.merchant_id, ScoredOrder.ordered_at, ScoredOrder.outcome)
        .where(
            getattr(ScoredOrder, f"{kind}_key") == bindparam(kind),
            ScoredOrder.ordered_at > bindparam("since_d30"),
            ScoredOrder.ordered_at <= bindparam("until"),
        )
        .order_by(ScoredOrder.ordered_at.desc())
        .limit(bindparam("count_limit", type_=Integer))
        .subquery(f"recent_{kind}")
    )
    return select(*newest.c)  # a member of a UNION may not be ordered itself on SQLite


def _velocity(merchant: Any) -> Select[Any]:
    """For each kind of value, its earlier orders at ``merchant`` counted per window, the
    other merchants that had such orders per window, and the merchant's orders with the
    e-mail found legitimate (the history). One aggregate grouped by kind over the kinds'
    newest orders: PostgreSQL sets up a plan for every execution, and six aggregates of seven
    sums each were a sixth of its CPU a score. A kind with no earlier order has no row."""
    recent = union_all(*(_recent(kind) for kind in VELOCITY_KINDS)).subquery("recent")
    mine = recent.c.merchant_id == merchant.c.merchant_id
    others = recent.c.merchant_id != merchant.c.merchant_id
    since = {window: recent.c.ordered_at > bindparam(f"since_{window}") for window in WINDOWS}
    email = recent.c.part == literal_column("'email'", String)
    return (
        select(
            recent.c.part,
            cast(null(), LargeBinary).label("key_hash"),
            cast(null(), String).label("source"),
            *(_count(condition, mine).label(window) for window, condition in since.items()),
            *(
                _merchants(recent.c.merchant_id, condition, others).label(f"others_{window}")
                for window, condition in since.items()
            ),
            _count(email, mine, recent.c.outcome == "legitimate").label("legitimate"),
        )
        .select_from(recent.join(merchant, true()))
        .group_by(recent.c.part)
    )


def _read(by_key: bool) -> Select[Any]:
    merchant = _merchant(by_key).cte("merchant")
    found = union_all(_known(), _velocity(merchant)).subquery("found")
    # outer: the merchant's row comes back even when nothing was found (part is then NULL)
    return select(merchant, found).select_from(merchant.outerjoin(found, true()))


def _insert_order(dialect: str) -> Any:
    """The scored order's one row; a concurrent request that stored the same order id first
    makes it insert nothing (both databases write ``ON CONFLICT DO NOTHING`` alike). Its JSON
    columns take the JSON text the score wrote (``JSON_TEXT``): its values are plain, and
    orjson writes them in a third of the standard library's time."""
    written: dict[str, Any]
    if dialect == "postgresql":
        builder: Any = postgresql.insert
        written = {name: cast(bindparam(name, type_=String), JSON) for name in JSON_TEXT}
    else:  # SQLite keeps JSON as text
        builder = sqlite.insert
        written = {name: bindparam(name, type_=String) for name in JSON_TEXT}
    return (
        builder(ScoredOrder)
        .values(written)
        .on_conflict_do_nothing(index_elements=[ScoredOrder.merchant_id, ScoredOrder.order_id])
    )


JSON_TEXT = ("payload", "features", "reasons")


ORDER_COLUMNS = [
    "merchant_id",
    "order_id",
    "ordered_at",
    "amount_yen",
    "payload_hash",
    "score",
    "band",
    "rules_version",
    "scored_at",
    *(f"{kind}_key" for kind in VELOCITY_KINDS),
]

READ_BY_KEY = DriverStatement(_read(by_key=True))
READ_BY_MERCHANT = DriverStatement(_read(by_key=False))
INSERT_ORDER = DriverStatement(_insert_order, column_keys=ORDER_COLUMNS)
KEY = DriverStatement(KEY_ROW)
RULES = DriverStatement(
    select(RuleSetVersion.fingerprint, RuleSetVersion.rules, RuleSetVersion.thresholds).where(
        RuleSetVersion.id == bindparam("rule_set_id")
    )
)
EARLIER = DriverStatement(
    select(*_STORED_RESULT).where(
        ScoredOrder.merchant_id == bindparam("merchant_id"),
        ScoredOrder.order_id == bindparam("order_id"),
    )
)
