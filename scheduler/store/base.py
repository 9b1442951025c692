"""The store's shared parts: the tables, the engine, row types and write transactions."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import create_engine

from scheduler.errors import SchedulerError
from scheduler.store.tables import FormNonce, HeadsUp, LedgerEntry, Run, Subscriber, Suppression, WebhookEvent

SUBSCRIBER = Subscriber.__table__  # type: ignore[attr-defined]
LEDGER = LedgerEntry.__table__  # type: ignore[attr-defined]
RUN = Run.__table__  # type: ignore[attr-defined]
HEADS_UP = HeadsUp.__table__  # type: ignore[attr-defined]
SUPPRESSION = Suppression.__table__  # type: ignore[attr-defined]
WEBHOOK_EVENT = WebhookEvent.__table__  # type: ignore[attr-defined]
FORM_NONCE = FormNonce.__table__  # type: ignore[attr-defined]


#: the execution option that marks a read-only connection (see make_engine)
READ_ONLY = "anniversary_read_only"


#: how long a SQLite write waits for another writer's lock when the URL names no
#: ``timeout`` (config.toml's ``database.busy_timeout_seconds`` puts one there)
DEFAULT_BUSY_TIMEOUT = 60.0

#: how long a 0-byte SQLite file may take to become a database: another process that
#: is creating it writes the first page right after opening it (see refuse_empty_file)
EMPTY_FILE_GRACE_S = 2.0


class StoreError(SchedulerError):
    pass


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.query.get("uri") or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def busy_timeout(url: str) -> float:
    """The seconds a SQLite write waits for another process's lock: the URL's ``timeout``."""
    value = make_url(url).query.get("timeout")
    return float(value) if isinstance(value, str) else DEFAULT_BUSY_TIMEOUT


def database_name(url: str) -> str:
    """How an error line names the database: a SQLite file's path, else the URL without
    the password it may carry."""
    path = sqlite_path(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


def refuse_empty_file(url: str) -> None:
    """Only a path that does not exist becomes a new database. A 0-byte file is what a
    failed copy or restore leaves (SQLite would silently start it afresh, as if every
    subscriber were gone); one that another process is creating gets its first page
    at once, so it is given a moment before it is refused."""
    path = sqlite_path(url)
    if path is None:
        return
    deadline = time.monotonic() + EMPTY_FILE_GRACE_S
    while True:
        try:
            if path.stat().st_size > 0:
                return
        except OSError:
            return  # absent (created fresh) or unreadable (SQLite says why)
        if time.monotonic() > deadline:
            raise StoreError(
                f"database {path} is an empty file (0 bytes), not a database: most likely a copy or restore "
                "that failed. Put the real file back; to start a new, empty database instead, delete this one"
            )
        time.sleep(0.05)


def _primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of a driver error (sqlite3.Error.sqlite_errorcode
    carries the extended one, whose low byte is the primary)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _unwritable(path: Path) -> str | None:
    """What keeps SQLite from writing ``path``: its file system, the file, the -wal or
    -shm file beside it, or their folder; None when nothing here says so."""
    folder = path.parent
    if not folder.is_dir():
        return f"no such folder {folder}"
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        return None
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f"read-only file {candidate.name} for this user"
    if not os.access(folder, os.W_OK):
        return "read-only folder for this user"
    return None


def _unreachable(orig: BaseException) -> bool:
    """A PostgreSQL driver error that says the connection failed or was lost (SQLSTATE
    class 08, or psycopg's OperationalError without a SQLSTATE: no server answered)."""
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03")
    return type(orig).__name__ == "OperationalError" and type(orig).__module__.startswith("psycopg")


def database_error(exc: BaseException, url: str) -> StoreError | None:
    """One line for what the database's files or locks did wrong, or None for any other
    error (a constraint, a bug), which stays as it is."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, sqlite3.Error):
        if (isinstance(exc, OperationalError) and getattr(exc, "connection_invalidated", False)) or _unreachable(orig):
            # A server that went away or never answered (README: Troubleshooting):
            # one line, so the daemon retries at its next wake and the web app says 503.
            words = " ".join(str(orig).split())[:300]
            return StoreError(f"cannot reach database {database_name(url)}: {words}")
        return None
    code = _primary_code(orig)
    words = " ".join(str(orig).split())
    name = database_name(url)
    path = sqlite_path(url)
    if code == sqlite3.SQLITE_BUSY or (code is None and "locked" in words):
        # README: Troubleshooting, "database is locked".
        return StoreError(
            f"database is locked: waited {busy_timeout(url):g} s (database.busy_timeout_seconds) for another "
            f"process to release {name}; is another sender stuck?"
        )
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreError(f"database {name} is damaged or not a database: {words}; restore it from a backup")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
        why = _unwritable(path) if path is not None else None
        if code == sqlite3.SQLITE_READONLY or (why and why.startswith("read-only")):
            return StoreError(
                f"cannot write to database {name}: {why or 'read-only'} ({words}); SQLite writes the database, "
                "the -wal and -shm files beside it and their folder"
            )
        return StoreError(f"cannot open database {name}: {why or words}")
    if code == sqlite3.SQLITE_FULL:
        return StoreError(f"cannot write to database {name}: the disk is full ({words}); free some space")
    if code == sqlite3.SQLITE_IOERR:
        return StoreError(f"cannot read or write database {name}: {words}")
    return None


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
        timeout = busy_timeout(url)
        # LIFO: a thread gets back the connection it just used, whose page cache is
        # still valid; FIFO would alternate connections and re-read every page
        # another one wrote meanwhile (BENCHMARKS.md, SendGrid delivery).
        engine = create_engine(url, connect_args={"timeout": timeout}, pool_use_lifo=True)

        @event.listens_for(engine, "handle_error")
        def _handle_error(context: Any) -> None:
            # A damaged, read-only or locked file is one line wherever it shows, not a
            # traceback (README: Troubleshooting).
            error = database_error(context.original_exception, url)
            if error is not None:
                raise error

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE sticks.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
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

        refuse_empty_file(url)
        try:
            self.engine = make_engine(url)
            migrate.ensure_current(self.engine)
        except (SQLAlchemyError, ValueError) as exc:
            why = exc.orig if isinstance(exc, DBAPIError) else exc
            raise StoreError(f"cannot open database {self._safe_url()}: {' '.join(str(why).split())}") from None

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
        with self._one_line_errors(), self.engine.connect() as conn:
            yield conn.execution_options(**{READ_ONLY: True})

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; a lock held past the busy timeout, a read-only or damaged
        file is one clear error (see database_error)."""
        with self._one_line_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _one_line_errors(self) -> Iterator[None]:
        # Statements SQLAlchemy runs reach make_engine's handle_error; the hot ones the
        # ledger hands straight to the driver (driver.driver_sql) arrive here as they are.
        try:
            yield
        except (DBAPIError, sqlite3.Error) as exc:
            error = database_error(exc, self.url)
            if error is None:
                raise
            raise error from None
