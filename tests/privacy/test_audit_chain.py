"""The audit trail stays one chain when many write at once, and shows an entry edited or
deleted (seed 002 §23, SPEC §7; issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.concurrently import at_once, failures
from tests.conftest import CliResult
from trustdesk import db
from trustdesk.db import unit_of_work
from trustdesk.privacy.models import AuditChainHead, AuditEntry
from trustdesk.privacy.service import GENESIS, _entry_hash, record_access, verify_chain
from trustdesk.timeutil import JST

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=JST)
WRITERS, EACH = 8, 20


def read(session: Session, i: int, now: datetime = NOW) -> AuditEntry:
    return record_access(
        session,
        actor=f"user:op{i % 3}",
        action="view-subscriber",
        subject=f"subscriber S{i:04d}",
        now=now + timedelta(seconds=i),
        reason="complaint TD-000001",
        detail={"case": i},
    )


def test_writers_at_once_append_to_one_chain(
    factory: sessionmaker[Session], cli: Callable[..., CliResult]
) -> None:
    """8 writers of 20 entries each, every entry its own transaction and connection: one
    chain, each entry following a different one (the last-row lock forked it 45 times)."""

    def writer(w: int) -> int:
        for n in range(EACH):
            with unit_of_work(factory) as session:
                read(session, w * EACH + n)
        return EACH

    results = at_once(writer, WRITERS)
    assert failures(results) == []
    with unit_of_work(factory, reading=True) as session:
        previous = list(session.scalars(select(AuditEntry.previous_hash)))
        assert verify_chain(session) is None
    assert len(previous) == WRITERS * EACH
    assert len(set(previous)) == len(previous)  # no two entries follow the same one
    assert GENESIS in previous
    result = cli("audit", "verify")
    assert result.exit_code == 0 and f"({WRITERS * EACH} entries)" in result.stdout


def _trail(factory: sessionmaker[Session], count: int = 5) -> list[int]:
    with unit_of_work(factory) as session:
        return [read(session, i).id for i in range(count)]


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE audit_log SET actor = 'user:someone-else' WHERE id = :id",
        "UPDATE audit_log SET detail = '{\"case\": 99}' WHERE id = :id",
    ],
)
def test_an_entry_edited_in_the_database_is_found(
    factory: sessionmaker[Session], cli: Callable[..., CliResult], change: str
) -> None:
    ids = _trail(factory)
    with unit_of_work(factory) as session:
        session.execute(text(change), {"id": ids[2]})
    with unit_of_work(factory, reading=True) as session:
        assert verify_chain(session) == ids[2]
    result = cli("audit", "verify")
    assert result.exit_code == 1 and f"broken at entry {ids[2]}" in result.output


@pytest.mark.parametrize("which", [0, 2, 4], ids=["first", "middle", "last"])
def test_an_entry_deleted_from_the_database_is_found(
    factory: sessionmaker[Session], cli: Callable[..., CliResult], which: int
) -> None:
    """Deleted from the start or the middle, the next entry no longer follows; deleted from
    the end, the trail no longer ends where the head says."""
    ids = _trail(factory)
    with unit_of_work(factory) as session:
        session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[which]})
    broken = ids[which + 1] if which + 1 < len(ids) else ids[which]
    with unit_of_work(factory, reading=True) as session:
        assert verify_chain(session) == broken
    assert cli("audit", "verify").exit_code == 1


def test_an_intact_trail_verifies_and_appends_continue_it(factory: sessionmaker[Session]) -> None:
    ids = _trail(factory)
    with unit_of_work(factory) as session:
        assert verify_chain(session) is None
        head = session.execute(select(AuditChainHead)).scalar_one()
        last = session.get(AuditEntry, ids[-1])
        assert last is not None and (head.last_id, head.entry_hash) == (last.id, last.entry_hash)


def test_the_head_is_made_again_when_its_row_is_gone(factory: sessionmaker[Session]) -> None:
    ids = _trail(factory, 2)
    with unit_of_work(factory) as session:
        session.execute(text("DELETE FROM audit_chain_head"))
    with unit_of_work(factory) as session:
        assert read(session, 9).previous_hash == session.get(AuditEntry, ids[-1]).entry_hash  # type: ignore[union-attr]
        assert verify_chain(session) is None


def test_0017_seeds_the_head_from_the_trail(empty_database: str) -> None:
    """A trail written before the head existed: the head starts at its last entry, and the
    next append follows it."""
    engine = db.make_engine(empty_database)
    config = db.alembic_config(engine)
    command.upgrade(config, "0016_caselock")
    factory = db.session_factory(engine)
    with factory() as session, session.begin():
        entries = []
        previous = GENESIS
        for i in range(3):  # as record_access wrote them before 0017
            at = NOW + timedelta(seconds=i)
            entry_hash = _entry_hash(previous, at, "user:a", "view", f"s{i}", None, {})
            session.execute(
                AuditEntry.__table__.insert(),
                {
                    "at": at,
                    "actor": "user:a",
                    "action": "view",
                    "subject": f"s{i}",
                    "reason": None,
                    "detail": {},
                    "previous_hash": previous,
                    "entry_hash": entry_hash,
                },
            )
            entries.append(entry_hash)
            previous = entry_hash
    command.upgrade(config, "head")
    with unit_of_work(factory) as session:
        head = session.execute(select(AuditChainHead)).scalar_one()
        assert head.entry_hash == entries[-1] and head.last_id == 3
        assert read(session, 3).previous_hash == entries[-1]
        assert verify_chain(session) is None
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 4
    engine.dispose()
