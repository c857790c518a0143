"""Helpers of the race tests (issue 17): hold one transaction open at its commit while another
tries the same case, and know when the other is waiting for the case's lock.

Nothing is mocked: the transactions are real ones on their own connections, run by the
production code; ``HeldCommit`` only makes the first commit that ``wanted`` picks wait for the
test's go-ahead, so that the race happens every run instead of by luck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case

PATIENCE = 30.0  # seconds a step of a race test waits at most before it gives up (a hang)


class HeldCommit:
    """The first transaction ``wanted`` picks stops at its commit until ``release``."""

    def __init__(self, wanted: Callable[[Session], bool]) -> None:
        self.wanted = wanted
        self.held = threading.Event()
        self.go = threading.Event()
        self._taken = threading.Lock()
        self._used = False

    def before_commit(self, session: Session) -> None:
        session.flush()
        with self._taken:
            if self._used or not self.wanted(session):
                return
            self._used = True
        self.held.set()
        assert self.go.wait(PATIENCE), "the test never let the held transaction commit"

    def release(self) -> None:
        self.go.set()


@contextmanager
def held_commit(wanted: Callable[[Session], bool]) -> Iterator[HeldCommit]:
    """Hold the first commit that ``wanted`` picks, in any session of this process."""
    holder = HeldCommit(wanted)
    event.listen(Session, "before_commit", holder.before_commit)
    try:
        yield holder
    finally:
        holder.release()
        event.remove(Session, "before_commit", holder.before_commit)


def suspends(session: Session) -> bool:
    """A transaction that has just suspended a case."""
    known = session.identity_map.values()
    return any(isinstance(o, Case) and o.state == "suspended" for o in known)


def wait_for_lock_waiter(engine: Engine) -> None:
    """Return once another connection waits for a row lock (PostgreSQL), so that the release
    that follows races it for sure. SQLite has no row locks and cannot tell who waits for its
    write lock: there the tests send the version they read, so that the outcome is the same
    whichever transaction reaches the database first."""
    if engine.dialect.name != "postgresql":
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + PATIENCE
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            if connection.execute(query).scalar_one():
                return
            connection.rollback()
            time.sleep(0.01)
    raise AssertionError("no transaction ever waited for the case's lock")


def run(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """``target`` in a thread of its own; its result (or exception) lands in the list."""
    out: list[Any] = []

    def body() -> None:
        try:
            out.append(target())
        except Exception as exc:  # noqa: BLE001 - the test asserts on what happened
            out.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


def effects_of(factory: Any, case_id: int, event: str = "malicious") -> tuple[int, int, int]:
    """What the case's decisions did: suspend actions, ``event`` timeline entries, yen billed."""
    from sqlalchemy import func, select

    from trustdesk.billing.models import LedgerEntry
    from trustdesk.cases.models import EnforcementAction, TimelineEntry
    from trustdesk.db import unit_of_work

    with unit_of_work(factory) as session:
        suspensions = session.scalar(
            select(func.count())
            .select_from(EnforcementAction)
            .where(EnforcementAction.case_id == case_id, EnforcementAction.action == "suspend")
        )
        entries = session.scalar(
            select(func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.case_id == case_id, TimelineEntry.event == event)
        )
        billed = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_yen), 0)).where(
                LedgerEntry.case_id == case_id
            )
        )
    return int(suspensions or 0), int(entries or 0), int(billed or 0)
