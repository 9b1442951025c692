"""The store's shared parts: the tables, the engine, row types and write transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    Engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import create_engine

from scheduler.errors import SchedulerError
from scheduler.store.tables import HeadsUp, LedgerEntry, Run, Subscriber

SUBSCRIBER = Subscriber.__table__  # type: ignore[attr-defined]
LEDGER = LedgerEntry.__table__  # type: ignore[attr-defined]
RUN = Run.__table__  # type: ignore[attr-defined]
HEADS_UP = HeadsUp.__table__  # type: ignore[attr-defined]


#: the execution option that marks a read-only connection (see make_engine)
READ_ONLY = "anniversary_read_only"


class StoreError(SchedulerError):
    pass


@dataclass(frozen=True)
class SubscriberRow:
    email: str
    name: str
    language: str
    timezone: str


class Candidate(NamedTuple):
    """A subscriber read for a send, not yet claimed: a claim names the ledger entries
    won by subscriber id. Tuples, not dataclasses: a send makes one per recipient
    (BENCHMARKS.md, SendGrid delivery)."""

    subscriber_id: int
    email: str
    name: str
    language: str
    timezone: str


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # LIFO: a thread gets back the connection it just used, whose page cache is
        # still valid; FIFO would alternate connections and re-read every page
        # another one wrote meanwhile (BENCHMARKS.md, SendGrid delivery).
        engine = create_engine(url, connect_args={"timeout": 60}, pool_use_lifo=True)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE sticks.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            # Checkpoint every ~40 MB of WAL rather than SQLite's 4 MB: a send rewrites
            # the same ledger index pages in every claim, and each checkpoint copies
            # them back and syncs the file (BENCHMARKS.md: -15 % per claim). The
            # WAL file is cut back to 64 MB after a checkpoint.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.execute("PRAGMA journal_size_limit=67108864")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A write takes the lock at BEGIN, so concurrent writers queue on the busy
            # timeout instead of failing when a read lock cannot be upgraded. A read
            # (StoreBase._read) must not: it would hold the write lock for as long as
            # it reads, and a send's claims would sleep in SQLite's busy handler
            # meanwhile (BENCHMARKS.md, SendGrid delivery).
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class StoreBase:
    def __init__(self, url: str) -> None:
        self.url = url
        # Alembic owns the schema (scheduler/store/migrations/): a new database is
        # created at the head revision, an older one is refused with the one command
        # that upgrades it, and a current one costs one small read, without the
        # write lock, so reads work while a send holds it.
        from scheduler.store import migrate

        try:
            self.engine = make_engine(url)
            migrate.ensure_current(self.engine)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"cannot open database {self._safe_url()}: {exc}") from None

    def _safe_url(self) -> str:
        # Never print a password that a PostgreSQL URL may carry.
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: Any) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            return sqlite.insert(table)
        if dialect == "postgresql":
            return postgresql.insert(table)
        raise StoreError(f"unsupported database dialect {dialect!r}: use sqlite or postgresql")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read: on SQLite a deferred transaction, which WAL lets run beside a write."""
        with self.engine.connect() as conn:
            yield conn.execution_options(**{READ_ONLY: True})

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; a lock held past the busy timeout is one clear error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            if "locked" in str(exc):
                raise StoreError("the database stayed locked for 60 s; is another sender stuck?") from None
            raise
