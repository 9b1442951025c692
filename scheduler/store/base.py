"""The store's shared parts: the tables, the engine, row types and write transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import SQLModel, create_engine

from scheduler.errors import SchedulerError
from scheduler.models import HeadsUp, LedgerEntry, Run, State, Subscriber

S = Subscriber.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
R = Run.__table__  # type: ignore[attr-defined]
H = HeadsUp.__table__  # type: ignore[attr-defined]


class StoreError(SchedulerError):
    pass


@dataclass(frozen=True)
class SubscriberRow:
    email: str
    name: str
    language: str
    timezone: str


@dataclass(frozen=True)
class Claimed:
    entry_id: int
    subscriber_id: int
    email: str
    name: str
    language: str
    timezone: str


@dataclass(frozen=True)
class Result:
    entry_id: int
    state: State
    message_id: str | None = None
    reason: str | None = None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE sticks.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class StoreBase:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            SQLModel.metadata.create_all(self.engine)
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
    def _write(self) -> Iterator[Connection]:
        """A write transaction; a lock held past the busy timeout is one clear error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            if "locked" in str(exc):
                raise StoreError("the database stayed locked for 60 s; is another sender stuck?") from None
            raise


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)
