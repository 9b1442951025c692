"""The database's schema version, and the upgrade to this release's (Alembic migrations
in ``scheduler/store/migrations/``).

Every command calls :func:`ensure_current` when it opens the store: a new database is
created at the head revision, an older one is refused with the command that upgrades it,
a newer one is refused too. ``anniversary db upgrade`` calls :func:`upgrade`, which backs
a SQLite file up first and, on PostgreSQL, holds an advisory lock so that two instances
starting at once migrate once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from scheduler.store.base import READ_ONLY, StoreError

__all__ = [
    "HEAD",
    "PG_LOCK_KEY",
    "SchemaAhead",
    "SchemaBehind",
    "State",
    "UpgradeReport",
    "alembic_config",
    "current_revision",
    "ensure_current",
    "state",
    "upgrade",
]

#: the newest migration; a test checks it against the scripts, so the check that runs on
#: every open needs no script loading
HEAD = "0004"

#: where Alembic finds env.py and versions/ (a package, so it ships with the wheel)
MIGRATIONS = Path(__file__).resolve().with_name("migrations")

#: the key of the PostgreSQL advisory lock held while migrating: any fixed bigint will do
#: ("annivers" in ASCII), as long as it stays the same from release to release
PG_LOCK_KEY = 0x616E6E6976657273

#: release 0.1.0 made its schema with create_all; its columns, to make sure a database
#: without a version really is one before it is stamped as revision 0001
V010_COLUMNS: dict[str, frozenset[str]] = {
    table: frozenset(columns.split())
    for table, columns in {
        "subscriber": "id email email_key name language timezone status consent_at consent_source"
        " created_at updated_at",
        "ledger": "id campaign year stage subscriber_id state message_id reason run_id transport updated_at",
        "run": "id command started_at finished_at summary",
        "heads_up": "id campaign year state recipients message_id updated_at",
    }.items()
}

#: ledger indexes that builds before 0.1.0 made and 0.1.0 dropped whenever it opened a
#: database; one that 0.1.0 never opened may still carry them
OBSOLETE_INDEXES = ("ix_ledger_run_state", "ix_ledger_cys_state")

#: how long a SQLite backup may wait for the file to be readable before it gives up
BACKUP_DEADLINE_S = 60.0

State = Literal["empty", "unversioned", "behind", "current", "ahead"]


class SchemaBehind(StoreError):
    """The database predates this release's schema; ``anniversary db upgrade`` fixes it."""

    exit_code = 2

    def __init__(self, safe_url: str, current: str | None) -> None:
        super().__init__(
            f"database {safe_url} is at schema {current or '0.1.0 (before migrations)'}, "
            f"this release needs {HEAD}; run `anniversary db upgrade` (back up the file first)"
        )


class SchemaAhead(StoreError):
    """A newer release upgraded the database; this one must not write to it."""

    exit_code = 2

    def __init__(self, safe_url: str, current: str | None) -> None:
        super().__init__(
            f"database {safe_url} is at schema {current}, newer than this release knows "
            f"(its newest is {HEAD}); run the release that upgraded it, or a later one"
        )


@dataclass(frozen=True)
class UpgradeReport:
    #: the revision before: None for a new database, "0.1.0" for one without a version
    from_rev: str | None
    to_rev: str
    #: the copy made before anything changed (SQLite files only)
    backup: Path | None
    changed: bool


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built here so that no alembic.ini is needed at runtime;
    env.py migrates ``connection`` inside the transaction its caller opened."""
    config = Config()
    # Config values go through configparser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in alembic_version; None when there is none (no table, as
    in a 0.1.0 or new database, or an empty one)."""
    with _reading(engine) as conn:
        versions = _versions(conn)
    return _joined(versions)


def state(engine: Engine) -> State:
    """empty: none of our tables; unversioned: ours without a version (0.1.0); behind: a
    revision before HEAD; current: HEAD; ahead: a revision this release does not know."""
    with _reading(engine) as conn:
        return _state(conn)[0]


def ensure_current(engine: Engine) -> None:
    """Create a new database's schema; refuse one at any other revision than HEAD.

    A current database costs one read of alembic_version, in a plain (deferred)
    transaction on SQLite: commands that only read must work while a send holds the
    write lock. Only when that read does not find HEAD are the tables looked at."""
    with _reading(engine) as conn:
        try:
            if conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]:
                return
        except DBAPIError:
            # Most likely no alembic_version yet; the full look below says what it is,
            # or fails the same way if it was something else. (A failure to connect
            # is not caught: it is raised by the line above the try.)
            pass
    with _reading(engine) as conn:
        found, versions = _state(conn)
    if found == "current":
        return
    if found == "empty":
        upgrade(engine)
    elif found == "ahead":
        raise SchemaAhead(_safe_url(engine), _joined(versions))
    else:
        raise SchemaBehind(_safe_url(engine), _joined(versions))


def upgrade(engine: Engine, *, backup_dir: Path | None = None, now: datetime | None = None) -> UpgradeReport:
    """Bring the database to HEAD; nothing happens (and no backup is made) when it is.

    The state is checked twice: once while only reading, so an upgrade of a current
    database waits for no lock, and again under the lock, because another process may
    have migrated meanwhile. All migrations run in one transaction."""
    if now is not None and now.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got {now!r}")
    with _reading(engine) as conn:
        found, versions = _state(conn)
    if found == "current":
        return UpgradeReport(HEAD, HEAD, None, changed=False)
    if found == "ahead":
        raise SchemaAhead(_safe_url(engine), _joined(versions))
    if engine.dialect.name == "sqlite":
        return _upgrade_sqlite(engine, backup_dir, now or datetime.now(UTC))
    if engine.dialect.name == "postgresql":
        return _upgrade_postgresql(engine)
    with engine.begin() as conn:
        return _migrate(conn, _no_backup)


def _upgrade_sqlite(engine: Engine, backup_dir: Path | None, now: datetime) -> UpgradeReport:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # Alembic's batch mode rebuilds a table by copy, drop and rename; with foreign
        # keys enforced the drop would delete or refuse the rows that refer to it.
        # SQLite ignores this pragma inside a transaction: set it before BEGIN (the
        # begin event makes that BEGIN IMMEDIATE, which holds the write lock throughout).
        enforced = raw.execute("PRAGMA foreign_keys").fetchone()[0]
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if _state(conn)[0] == "current":
                    # Another process migrated while this one waited for the lock.
                    return UpgradeReport(HEAD, HEAD, None, changed=False)
                path = next(row[2] for row in raw.execute("PRAGMA database_list") if row[1] == "main")

                def backup(from_rev: str) -> Path | None:
                    # An in-memory or temporary database ("" path) has no file to keep.
                    return _backup_sqlite(Path(path), from_rev, backup_dir, now) if path else None

                # Rows that already referred to nothing (deleted by hand with the sqlite3
                # shell, which does not enforce foreign keys) must not block the upgrade.
                violations = set(conn.exec_driver_sql("PRAGMA foreign_key_check").all())
                report = _migrate(conn, backup)
                added = set(conn.exec_driver_sql("PRAGMA foreign_key_check").all()) - violations
                if added:
                    raise StoreError(
                        f"the upgrade left {len(added)} rows whose foreign key refers to nothing "
                        f"(first: {tuple(next(iter(added)))}); nothing was changed"
                    )
                return report
        finally:
            raw.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")


def _upgrade_postgresql(engine: Engine) -> UpgradeReport:
    with engine.connect() as conn:
        # A session lock, not a transaction one, so that it outlives the transaction
        # and still covers a later migration that has to commit part way (an index
        # built concurrently, say). The second instance waits here, then finds HEAD.
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
        conn.commit()
        try:
            with conn.begin():
                return _migrate(conn, _no_backup)
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                conn.commit()
            except DBAPIError:
                # Closing the session releases the lock as well; don't pool it.
                conn.invalidate()


def _no_backup(_from_rev: str) -> Path | None:
    return None


def _migrate(conn: Connection, backup: Callable[[str], Path | None]) -> UpgradeReport:
    """The upgrade itself, in the caller's transaction (and under its lock)."""
    found, versions = _state(conn)
    if found == "current":
        return UpgradeReport(HEAD, HEAD, None, changed=False)
    if found == "ahead":
        raise SchemaAhead(_safe_url(conn.engine), _joined(versions))
    from_rev = "0.1.0" if found == "unversioned" else _joined(versions)
    # A new database has nothing worth a copy.
    backup_path = None if found == "empty" else backup(from_rev or "base")
    config = alembic_config(conn)
    if found == "unversioned":
        _check_v010(conn)
        for name in OBSOLETE_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        # Its tables are exactly revision 0001's: record that, then migrate from there.
        command.stamp(config, "0001")
    command.upgrade(config, "head")
    to_rev = _joined(_versions(conn))
    if to_rev != HEAD:
        raise StoreError(f"the upgrade ended at schema {to_rev}, not {HEAD}: HEAD in {__name__} is out of date")
    return UpgradeReport(from_rev, HEAD, backup_path, changed=True)


def _state(conn: Connection) -> tuple[State, list[str]]:
    tables = set(inspect(conn).get_table_names())
    versions = _versions(conn, known_table="alembic_version" in tables)
    if versions == [HEAD]:
        return "current", versions
    if not versions:
        # "empty" means none of this application's tables: a database that holds
        # others (a shared PostgreSQL schema) still gets ours.
        return ("unversioned" if tables & V010_COLUMNS.keys() else "empty"), versions
    known = {script.revision for script in _scripts().walk_revisions()}
    return ("behind" if set(versions) <= known else "ahead"), versions


def _versions(conn: Connection, known_table: bool | None = None) -> list[str]:
    if not (inspect(conn).has_table("alembic_version") if known_table is None else known_table):
        return []
    return sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _joined(versions: list[str]) -> str | None:
    # One linear history has one row; more would be branches, shown all together.
    return "+".join(versions) or None


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _check_v010(conn: Connection) -> None:
    """Refuse to stamp tables that are not 0.1.0's: later migrations would assume them."""
    inspector = inspect(conn)
    problems = []
    for table, expected in V010_COLUMNS.items():
        if not inspector.has_table(table):
            problems.append(f"no table {table}")
            continue
        found = {str(column["name"]) for column in inspector.get_columns(table)}
        if found != expected:
            missing, extra = sorted(expected - found), sorted(found - expected)
            problems.append(f"table {table} lacks {missing or 'nothing'}, has extra {extra or 'nothing'}")
    if problems:
        raise StoreError(
            f"database {_safe_url(conn.engine)} has no schema version and is not a 0.1.0 database "
            f"({'; '.join(problems)}); it cannot be upgraded automatically"
        )


def _backup_sqlite(source: Path, from_rev: str, backup_dir: Path | None, now: datetime) -> Path:
    """Copy the file with SQLite's backup API: consistent even in WAL mode, where a file
    copy could miss what is still in the -wal file. The caller holds the write lock
    and has changed nothing yet, so the copy is exactly the database before."""
    folder = backup_dir if backup_dir is not None else source.parent
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{source.name}.backup-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{from_rev}"
    target, n = folder / stem, 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}"
    deadline = time.monotonic() + BACKUP_DEADLINE_S

    def progress(_status: int, _remaining: int, _total: int) -> None:
        # Python retries a busy step forever; give up instead of hanging a command.
        if time.monotonic() > deadline:
            raise StoreError(f"could not read {source} for the backup within {BACKUP_DEADLINE_S:.0f} s")

    # Its own connection: the migrating one holds the write lock, and SQLite refuses a
    # backup from a connection inside a write transaction (Python would retry forever).
    src = sqlite3.connect(source, timeout=BACKUP_DEADLINE_S)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, progress=progress)
        # One self-contained file: the backup need not be opened in WAL mode.
        dst.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        dst.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        src.close()
        dst.close()
    return target


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection: on SQLite a plain BEGIN, which WAL lets run beside a write
    (make_engine turns every other BEGIN into BEGIN IMMEDIATE)."""
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


def _safe_url(engine: Engine) -> str:
    # Never print a password that a PostgreSQL URL may carry.
    return engine.url.render_as_string(hide_password=True)
