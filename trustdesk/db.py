"""Database plumbing: the declarative base, portable column types, engine and migrations.

The engine is built from settings at start-up, never at import. Services take a ``Session`` and
never commit: the caller (CLI command, HTTP request, worker tick) owns the transaction. The
fraud score, a hot path of three Core statements, takes a ``Connection`` (:func:`statements`).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Select,
    String,
    create_engine,
    event,
    func,
    insert,
    make_url,
    select,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


T = TypeVar("T")
# PostgreSQL takes at most 65,535 parameters a statement, SQLite 32,766 by default.
PARAMETERS_PER_IN = 10_000


def in_chunks(values: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """``values`` cut into lists of ``size``, read as they come; by default lists an
    ``IN (...)`` of every database takes (a feed file, an import or the opted-out members can
    name more than one statement may carry)."""
    iterator = iter(values)
    while chunk := list(islice(iterator, size or PARAMETERS_PER_IN)):
        yield chunk


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: stored in UTC (timestamptz on PostgreSQL), always returned timezone-aware.

    SQLite has no time zone type; storing every value in UTC keeps its text comparison correct.
    A naive value is a programming error and is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class jst_day(FunctionElement[str]):  # noqa: N801 - used like a SQL function
    """The JST calendar day (``YYYY-MM-DD``) of a ``UTCDateTime`` column, computed in SQL so that
    counts per day group in the database. Japan has no daylight saving time: +9 hours always."""

    type = String()
    inherit_cache = True


@compiles(jst_day, "sqlite")
def _jst_day_sqlite(element: jst_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+9 hours')"


@compiles(jst_day, "postgresql")
def _jst_day_postgresql(element: jst_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD')"


SQLITE_BUSY_SECONDS = 10.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent use,
    and transactions that really are (see ``_sqlite_begin``).

    SQLite's busy timeout, how long a writer waits for the write lock before failing with
    "database is locked", is ``SQLITE_BUSY_SECONDS`` unless the URL says otherwise
    (``sqlite:///trustdesk.db?timeout=30``, in seconds, as the pysqlite driver reads it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and "timeout" not in parsed.query:
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS} | kwargs.get("connect_args", {})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "connect", _nul_safe_text)
    return engine


def _nul_safe_text(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL text cannot hold NUL (U+0000), which complaints, forms and feeds can carry
    (attackers write them on purpose): without this, one such character fails the whole
    transaction that records a batch. Strings are sent with NUL as U+FFFD, the replacement
    character, on every statement of the connection; the raw documents stay bytes, untouched.
    SQLite stores NUL as it is, so both databases keep the same text but for that mark."""
    from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

    class Text(StrDumperUnknown):
        def dump(self, obj: str) -> bytes:
            return super().dump(obj.replace("\x00", "\ufffd"))  # type: ignore[return-value]

    class BinaryText(StrBinaryDumper):
        def dump(self, obj: str) -> bytes:
            return super().dump(obj.replace("\x00", "\ufffd"))  # type: ignore[return-value]

    dbapi_connection.adapters.register_dumper(str, BinaryText)
    dbapi_connection.adapters.register_dumper(str, Text)


# The execution option that marks a unit of work as one that only reads (``unit_of_work``).
READING = "trustdesk_reading"


def _sqlite_begin(connection: Connection) -> None:
    """Python's sqlite3 module begins a transaction only before its first INSERT/UPDATE, so a
    SAVEPOINT issued before any (``session.begin_nested()`` after a few SELECTs) opened a
    transaction of its own, and its RELEASE committed: the complaints of a batch were durable
    before the rest of the batch's transaction. The module is put in autocommit mode
    (``_sqlite_pragmas``) and the transaction begun here, as SQLAlchemy's SQLite notes advise.

    A transaction that may write begins ``IMMEDIATE``: it takes SQLite's one write lock before
    its first read, waiting for it up to ``busy_timeout``. A ``DEFERRED`` one that read and
    then wrote could not wait: when another connection held the lock, or had committed since
    its read, SQLite failed it at once with "database is locked", whatever the timeout (3 API
    clients and a mail stream turned 18 of 24 complaints into 500s, issue 17). Holding the lock
    from the start also makes each writing transaction serial, which the audit chain and the
    rate limits rely on (``serialise``). A unit of work marked ``READING`` begins deferred, so
    a page that only reads never queues behind a writer (WAL: readers see the last commit),
    and runs with ``query_only`` so that a write slipped into it fails on every run, not under
    load alone."""
    reading = bool(connection.get_execution_options().get(READING, False))
    if connection.connection.info.get(READING, False) != reading:
        connection.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
        connection.connection.info[READING] = reading
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def serialise(connection: Connection, name: str) -> None:
    """Hold the lock named ``name`` until the transaction ends, so that the transactions that
    take it run one after another (a rate limit's count and its insert, issue 17).

    PostgreSQL takes a transaction-level advisory lock on a 64-bit key drawn from the name
    (two names sharing a key only wait for each other more than they need to). SQLite has one
    write lock, which every writing transaction holds from its ``BEGIN IMMEDIATE``
    (``_sqlite_begin``): there is nothing more to take, and a reading unit of work may not
    serialise a write."""
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(name.encode()).digest()[:8]
        key = int.from_bytes(digest, "big", signed=True)
        connection.execute(select(func.pg_advisory_xact_lock(key)))
    elif connection.get_execution_options().get(READING, False):
        raise RuntimeError(f"a reading unit of work cannot serialise {name!r}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN: ``_sqlite_begin`` does it
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def statement_engine(engine: Engine) -> Engine:
    """The engine for :func:`statements`: on PostgreSQL its connections commit each statement
    as it runs (``AUTOCOMMIT``); SQLite's is the engine itself."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def statements(engine: Engine) -> Iterator[Connection]:
    """A connection for a unit of work that writes one row and reads only what any statement
    of a READ COMMITTED transaction would read afresh anyway (the fraud score: its reads, then
    one ``INSERT ... ON CONFLICT DO NOTHING``), so its statements need no transaction around
    them. ``engine`` comes from :func:`statement_engine`.

    On PostgreSQL the transaction's ``BEGIN`` and ``COMMIT`` were two round trips of five
    (0.2 ms of the worker's CPU a score, 0.1 ms of the server's), and the ORM session around
    three Core statements 7% of the score request's instructions (bench/RESULTS.md,
    2026-12-03). SQLite has no round trips, and its transactions are begun by
    ``_sqlite_begin`` on a connection SQLAlchemy's autocommit level would reset: there the
    block is one transaction, as in :func:`unit_of_work`."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    if engine.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        raise ValueError("statements() takes the engine of statement_engine()")
    with engine.connect() as connection:
        yield connection


def statement_pool(engine: Engine, size: int) -> AsyncConnectionPool[Any] | None:
    """On PostgreSQL, ``size`` of psycopg's asynchronous connections for the statements of a
    hot path run on the event loop (``DriverStatement.run_async``), each statement committed
    as it runs, as :func:`statements`' are; None on SQLite. Made with the engine's own
    connection arguments and adapters, NUL-safe like its connections (``_nul_safe_text``).

    The pool is not open: the event loop that will use it opens it (``await pool.open()``),
    and connections are made as requests need them, up to ``size``."""
    if engine.dialect.driver != "psycopg":
        return None
    from psycopg_pool import AsyncConnectionPool

    _arguments, options = engine.dialect.create_connect_args(engine.url)

    async def configure(connection: AsyncConnection[Any]) -> None:
        _nul_safe_text(connection, None)

    return AsyncConnectionPool(
        kwargs=dict(options, autocommit=True),
        min_size=0,
        max_size=size,
        configure=configure,
        open=False,
    )


def transient(error: BaseException) -> bool:
    """Whether the database was busy (SQLite's lock, a PostgreSQL deadlock or serialisation
    failure), gone or out of connections: the same work may succeed later, so no document or
    notice is marked failed for it (issue 17). The drivers' own classes count too:
    ``driver_insert`` and ``DriverStatement`` run on the raw cursor, whose errors SQLAlchemy
    does not wrap (psycopg's can only occur once it is loaded)."""
    if isinstance(
        error, OperationalError | InterfaceError | PoolTimeout | sqlite3.OperationalError
    ):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(
        error, psycopg.OperationalError | psycopg.InterfaceError
    )


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, reading: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    On SQLite a unit of work holds the write lock from its start (``_sqlite_begin``), so
    writers queue instead of failing; one that only reads says ``reading=True`` (a page, a
    list) and neither waits for writers nor makes them wait. PostgreSQL readers never wait
    for writers; there the mark makes the transaction ``READ ONLY``, so that a write slipped
    into a reading unit fails on both databases alike."""
    options = {READING: True, "postgresql_readonly": True} if reading else None
    with factory(execution_options=options) as session, session.begin():
        yield session


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def schema_is_current(engine: Engine) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


class RowShape:
    """How a Core SELECT's driver tuples become the values SQLAlchemy would have returned.

    Only the types whose driver values differ are converted (``UTCDateTime``; booleans on
    SQLite), and only when asked: see ``driver_rows``.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        columns = list(statement.selected_columns)
        self._positions = {str(column.key): i for i, column in enumerate(columns)}
        converters = [_converter(column.type, dialect) for column in columns]
        self._converters = converters
        self._converted = [(i, c) for i, c in enumerate(converters) if c is not None]
        self._row_type: Any = namedtuple(  # type: ignore[misc]
            "Row", [str(name) for name in self._positions]
        )

    def position(self, name: str) -> int:
        return self._positions[name]

    def value(self, raw: tuple[Any, ...], name: str) -> Any:
        position = self._positions[name]
        value, convert = raw[position], self._converters[position]
        return value if convert is None or value is None else convert(value)

    def row(self, raw: tuple[Any, ...]) -> Any:
        """The whole row as a named tuple with SQLAlchemy's values."""
        values = list(raw)
        for position, convert in self._converted:
            if values[position] is not None:
                values[position] = convert(values[position])
        return self._row_type._make(values)


def driver_rows(
    connection: Connection, statement: Select[*tuple[Any, ...]]
) -> tuple[RowShape, Iterator[tuple[Any, ...]]]:
    """The rows of a Core SELECT straight from the DB-API cursor, as the driver gives them.

    For reading whole tables (the in-memory attribution index), where SQLAlchemy's per-row
    result processing would cost more than the rest of the load and most values are never
    looked at. The SQL is compiled from the statement, so table and column names come from the
    models; ``RowShape`` converts a tuple when it is needed.
    """
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    cursor.execute(str(statement.compile(dialect=dialect)))

    def rows() -> Iterator[tuple[Any, ...]]:
        try:
            while chunk := cursor.fetchmany(10_000):
                yield from chunk
        finally:
            cursor.close()

    return RowShape(statement, dialect), rows()


def _converter(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UTCDateTime):
        if dialect.name == "sqlite":  # stored as UTC text (UTCDateTime.process_bind_param)
            return lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC)
        return lambda moment: moment.astimezone(UTC)
    if isinstance(column_type, Boolean) and dialect.name == "sqlite":
        return bool
    return None


def reserve_ids(connection: Connection, column: Any, count: int) -> list[int]:
    """``count`` fresh values of an integer primary key, so that a bulk insert can go without
    ``RETURNING`` (the driver's plain ``executemany``) and still know its rows' ids.

    PostgreSQL takes them from the column's sequence, safe under concurrency. SQLite continues
    after the largest id: a concurrent writer that took the same ids makes the insert fail
    with an IntegrityError, which the caller handles as for any conflicting insert.
    """
    if count == 0:
        return []
    table = column.table
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, column.name)
        numbers = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return list(connection.scalars(numbers))
    largest = connection.scalar(select(func.max(column))) or 0
    return list(range(largest + 1, largest + 1 + count))


def driver_insert(connection: Connection, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows through the DB-API cursor's ``executemany``.

    For a feed file's tens of thousands of complaints SQLAlchemy's per-row parameter handling
    costs more than the database's insert. The statement is compiled from the table (names come
    from the models) and each value goes through its column type's own bind processor (JSON,
    ``UTCDateTime``), so what is stored is exactly what ``connection.execute(insert(...))``
    would store, and an error is SQLAlchemy's, as there. Every row must have the keys of the
    first.
    """
    if not rows:
        return
    names = [column.name for column in model.__table__.columns if column.name in rows[0]]
    compiled = _Compiled(insert(model), connection.dialect, column_keys=names)
    cursor = compiled.cursor(connection)
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        cursor.executemany(compiled.sql, [compiled.bind(row) for row in rows])
    except dbapi_error as exc:
        # Raised as ``connection.execute`` would raise it: a row a concurrent transaction
        # committed first is SQLAlchemy's IntegrityError, which callers take for a duplicate.
        wrapped = DBAPIError.instance(
            compiled.sql,
            None,
            exc,
            dbapi_error,
            hide_parameters=True,
            dialect=connection.dialect,
            ismulti=True,
        )
        raise cast(BaseException, wrapped) from exc
    finally:
        cursor.close()


class DriverStatement:
    """A Core statement run straight on the driver's cursor, compiled once per dialect.

    For the few statements of a hot path with a latency target (the fraud score,
    bench/fraud.py): SQLAlchemy's work on every execution — cache key, parameter and result
    processing, result objects — cost five times the driver's own (0.43 against 0.09 ms of CPU
    for the score's lookup, measured 2026-12-02), more than PostgreSQL spent answering. The
    statement is still written in Core and compiled by SQLAlchemy; values go through the column
    types' own bind and result processors, so they are stored and read exactly as the ORM
    does; and it runs on the session's connection, inside the caller's transaction.

    ``statement`` is a Core statement, or a function of the dialect's name that makes one (for
    what is written differently per database); an INSERT names its ``column_keys``. Only fixed
    statements: no expanding ``IN``.
    """

    def __init__(self, statement: Any, column_keys: list[str] | None = None) -> None:
        self._make = statement if callable(statement) else (lambda _name: statement)
        self._column_keys = column_keys  # an INSERT's columns, as for ``compile``
        self._compiled: dict[str, _Compiled] = {}

    def run(self, connection: Connection, parameters: dict[str, Any]) -> DriverResult:
        """Execute with ``parameters`` (the statement's bind names) on ``connection``."""
        compiled = self._for(connection.dialect)
        cursor = compiled.cursor(connection)
        try:
            if compiled.native:
                cursor.execute(compiled.sql, compiled.bind(parameters), prepare=True)
            else:
                cursor.execute(compiled.sql, compiled.bind(parameters))
            # rows only from a statement that exports columns: asking the cursor (its
            # description) builds a column object for each, on every execution
            rows = compiled.read(cursor, cursor.fetchall()) if compiled.columns else []
            return DriverResult(rows, cursor.rowcount)
        finally:
            cursor.close()

    async def run_async(
        self, connection: AsyncConnection[Any], dialect: Dialect, parameters: dict[str, Any]
    ) -> DriverResult:
        """The same on one of psycopg's asynchronous connections (:func:`statement_pool`), for
        ``dialect``, the engine's: a request's statements wait on the event loop instead of in
        a thread of their own."""
        from psycopg import AsyncRawCursor

        compiled = self._for(dialect)
        cursor = AsyncRawCursor(connection)
        try:
            await cursor.execute(compiled.sql, compiled.bind(parameters), prepare=True)
            rows = compiled.read(cursor, await cursor.fetchall()) if compiled.columns else []
            return DriverResult(rows, cursor.rowcount)
        finally:
            await cursor.close()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = self._make(dialect.name)
            compiled = _Compiled(statement, dialect, self._column_keys)
            self._compiled[dialect.name] = compiled
        return compiled


class _Compiled:
    """One statement compiled for one dialect, with what binding and reading it take.

    On psycopg the SQL is sent as PostgreSQL writes parameters (``$1``), through a
    ``RawCursor``: psycopg converts ``%(name)s`` itself on every execution of a statement
    longer than 4,096 characters (its cache stops there), 1.2 ms of CPU for the score's lookup.
    """

    def __init__(
        self, statement: Any, dialect: Dialect, column_keys: list[str] | None = None
    ) -> None:
        # for_executemany: no implicit ``RETURNING id`` (PostgreSQL) that nobody reads; a
        # statement that wants rows back says ``returning()``
        compiled = statement.compile(
            dialect=dialect, column_keys=column_keys, for_executemany=column_keys is not None
        )
        self.sql = str(compiled)
        if "POSTCOMPILE" in self.sql:
            raise ValueError("DriverStatement takes fixed statements only (no expanding IN)")
        self.dialect = dialect
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self.defaults = {
            name: bind.effective_value for name, bind in binds.items() if not bind.required
        }
        self.processors = {
            name: processor
            for name, bind in binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional else None
        )
        self.native = dialect.driver == "psycopg"
        if self.native:
            self.sql, self.order = _numbered(self.sql)
        self.columns = list(getattr(statement, "exported_columns", ()))
        self.row_type: Any = namedtuple("Row", [column.key for column in self.columns])  # type: ignore[misc]  # noqa: PYI024
        self.readers: list[tuple[int, Any]] | None = None

    def cursor(self, connection: Connection) -> Any:
        driver_connection = connection.connection.driver_connection
        if self.native:
            from psycopg import RawCursor

            return RawCursor(driver_connection)  # type: ignore[arg-type]
        return driver_connection.cursor()  # type: ignore[union-attr]

    def bind(self, parameters: dict[str, Any]) -> Any:
        values = self.defaults | parameters
        for name, processor in self.processors.items():
            values[name] = processor(values[name])
        return values if self.order is None else tuple(values[name] for name in self.order)

    def read(self, cursor: Any, rows: list[tuple[Any, ...]]) -> list[Any]:
        if self.readers is None:  # the driver's column types are known once it answered
            self.readers = [
                (position, reader)
                for position, (column, entry) in enumerate(
                    zip(self.columns, cursor.description, strict=True)
                )
                if (
                    reader := column.type.dialect_impl(self.dialect).result_processor(
                        self.dialect, entry[1]
                    )
                )
                is not None
            ]
        make = self.row_type._make
        if not self.readers:
            return [make(row) for row in rows]
        read = []
        for row in rows:
            values = list(row)
            for position, reader in self.readers:
                values[position] = reader(values[position])
            read.append(make(values))
        return read


_PYFORMAT = re.compile(r"%\((\w+)\)s")


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` parameters as ``$1``, ``$2``… (a name used twice keeps its number), and the
    names in their order; ``%%`` is a plain ``%`` again."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    return _PYFORMAT.sub(number, sql).replace("%%", "%"), tuple(names)


@dataclass(frozen=True)
class DriverResult:
    """What a ``DriverStatement`` answered: its rows as named tuples, each value as the
    column's type reads it, and the number of rows it wrote."""

    rows: list[Any]
    rowcount: int

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None
