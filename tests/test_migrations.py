"""Alembic owns the schema: a new database is made at the head revision with exactly the
DDL release 0.1.0 made plus the later migrations' changes (0002: AUTOINCREMENT on
subscriber), a 0.1.0 database is refused until it is upgraded, the upgrade keeps every
row and a backup, and neither the check on open nor two instances starting at once get
in each other's way.

The PostgreSQL tests use conftest's ``pg_url``: a schema of their own, dropped afterwards.
"""

from __future__ import annotations

import io
import multiprocessing
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import scheduler.store.tables  # noqa: F401  (defines the tables on SQLModel.metadata)
from scheduler.store import migrate
from scheduler.store.base import StoreError, make_engine
from scheduler.store.migrate import HEAD, SchemaAhead, SchemaBehind

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "subscribers-0.1.0.db"
TABLES = ("subscriber", "ledger", "run", "heads_up")
NEW_IN_0003 = ("suppression", "webhook_event", "form_nonce")
NEW_IN_0004 = ("letter", "letter_delivery")
NOW = datetime(2028, 1, 20, 4, 0, tzinfo=UTC)
PG_ENV = "ANNIVERSARY_TEST_POSTGRES_URL"


# --- helpers -------------------------------------------------------------------------


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """Plain sqlite3, closed afterwards; the committed fixture is opened immutable, so
    not even a lock or journal file touches it."""
    target = f"{path.as_uri()}?immutable=1" if path == FIXTURE else path.as_uri()
    conn = sqlite3.connect(target, uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _ddl(path: Path) -> dict[str, str]:
    """Every table's and index's DDL, whitespace normalized, alembic_version aside."""
    with _sqlite(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL"
        ).fetchall()
    return {f"{kind} {name}": " ".join(sql.split()) for kind, name, sql in rows if name != "alembic_version"}


def _at_head(ddl: dict[str, str]) -> dict[str, str]:
    """0.1.0's DDL as it is at HEAD: migration 0002 rebuilt subscriber with AUTOINCREMENT
    (SQLite's rename quotes the name), which brings SQLite's sqlite_sequence table;
    0003 added the lifecycle's columns and tables."""
    made = dict(ddl)
    old = made["table subscriber"]
    new = (
        old.replace("CREATE TABLE subscriber (", 'CREATE TABLE "subscriber" (')
        .replace("id INTEGER NOT NULL,", "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,")
        .replace(", PRIMARY KEY (id) )", " )")
    )
    assert new.count("AUTOINCREMENT") == 1 and "PRIMARY KEY (id)" not in new, old
    made["table subscriber"] = new
    made["table sqlite_sequence"] = "CREATE TABLE sqlite_sequence(name,seq)"
    return _after_0004(_after_0003(made))


def _after_0003(made: dict[str, str]) -> dict[str, str]:
    """Migration 0003 adds nullable columns in place (SQLite writes each into the stored
    CREATE TABLE) and three tables."""
    assert made["table subscriber"].endswith("updated_at DATETIME NOT NULL )")
    made["table subscriber"] = made["table subscriber"][:-1] + (
        ", consent_ip VARCHAR, consent_user_agent VARCHAR, consent_page VARCHAR, consent_wording VARCHAR,"
        " confirmed_at DATETIME, confirmed_ip VARCHAR, status_reason VARCHAR, region VARCHAR)"
    )
    ledger = made["table ledger"]
    assert ledger.count("updated_at DATETIME NOT NULL, PRIMARY KEY (id)") == 1, ledger
    made["table ledger"] = ledger.replace(
        "updated_at DATETIME NOT NULL, PRIMARY KEY (id)",
        "updated_at DATETIME NOT NULL, delivery VARCHAR, delivery_at DATETIME, PRIMARY KEY (id)",
    )
    made["table suppression"] = (
        "CREATE TABLE suppression ( email_hash VARCHAR NOT NULL, reason VARCHAR NOT NULL,"
        " source VARCHAR NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (email_hash) )"
    )
    made["table webhook_event"] = (
        "CREATE TABLE webhook_event ( event_id VARCHAR NOT NULL, received_at DATETIME NOT NULL, PRIMARY KEY (event_id) )"
    )
    made["index ix_webhook_event_received_at"] = "CREATE INDEX ix_webhook_event_received_at ON webhook_event (received_at)"
    made["table form_nonce"] = (
        "CREATE TABLE form_nonce ( nonce VARCHAR NOT NULL, used_at DATETIME NOT NULL, PRIMARY KEY (nonce) )"
    )
    made["index ix_form_nonce_used_at"] = "CREATE INDEX ix_form_nonce_used_at ON form_nonce (used_at)"
    return made


def _after_0004(made: dict[str, str]) -> dict[str, str]:
    """Migration 0004 adds the statement for the record's two tables and nothing else."""
    made["table letter"] = (
        "CREATE TABLE letter ( id INTEGER NOT NULL, campaign VARCHAR NOT NULL, year INTEGER NOT NULL,"
        " subscriber_id INTEGER NOT NULL, language VARCHAR NOT NULL, region VARCHAR NOT NULL,"
        " name VARCHAR NOT NULL, address VARCHAR NOT NULL, subject VARCHAR NOT NULL, text VARCHAR NOT NULL,"
        " created_at DATETIME NOT NULL, PRIMARY KEY (id), CONSTRAINT fk_letter_subscriber_id_subscriber"
        " FOREIGN KEY(subscriber_id) REFERENCES subscriber (id),"
        " CONSTRAINT uq_letter UNIQUE (campaign, year, subscriber_id) )"
    )
    made["table letter_delivery"] = (
        "CREATE TABLE letter_delivery ( id INTEGER NOT NULL, letter_id INTEGER NOT NULL, kind VARCHAR NOT NULL,"
        " target_key VARCHAR NOT NULL, target_email VARCHAR NOT NULL, target_name VARCHAR NOT NULL,"
        " target_title VARCHAR NOT NULL, target_language VARCHAR NOT NULL, state VARCHAR NOT NULL,"
        " queued_at DATETIME NOT NULL, claimed_at DATETIME, sent_at DATETIME, message_id VARCHAR,"
        " reason VARCHAR, PRIMARY KEY (id), CONSTRAINT fk_letter_delivery_letter_id_letter"
        " FOREIGN KEY(letter_id) REFERENCES letter (id),"
        " CONSTRAINT uq_letter_delivery UNIQUE (letter_id, target_key) )"
    )
    made["index ix_letter_delivery_state"] = "CREATE INDEX ix_letter_delivery_state ON letter_delivery (state, id)"
    made["index ix_letter_delivery_target"] = (
        "CREATE INDEX ix_letter_delivery_target ON letter_delivery (target_key, claimed_at)"
    )
    return made


def _with_0003_columns(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    added = {"subscriber": 8, "ledger": 2}
    return {table: [(*row, *([None] * added.get(table, 0))) for row in got] for table, got in rows.items()}


def _sequence(path: Path) -> list[tuple[Any, ...]]:
    with _sqlite(path) as conn:
        return conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read with plain sqlite3 (no SQLAlchemy type conversion)."""
    with _sqlite(path) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}


@contextmanager
def _engine(path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[sa.Engine]:
    with _engine(tmp_path / "new.db") as engine:
        yield engine


@pytest.fixture
def old(tmp_path: Path) -> Iterator[tuple[Path, sa.Engine]]:
    """A copy of the 0.1.0 database: the committed file is never opened for writing."""
    path = tmp_path / "subscribers-0.1.0.db"
    shutil.copyfile(FIXTURE, path)
    with _engine(path) as engine:
        yield path, engine


# --- SQLite --------------------------------------------------------------------------


def test_head_is_the_scripts_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [HEAD]


def test_revision_0001_makes_exactly_the_0_1_0_schema(tmp_path: Path) -> None:
    """0.1.0 databases are stamped 0001 as they are: 0001 must make the same DDL."""
    path = tmp_path / "at-0001.db"
    with _engine(path) as engine, engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0001")
    made, expected = _ddl(path), _ddl(FIXTURE)
    assert sorted(made) == sorted(expected)
    for name, sql in expected.items():
        assert made[name] == sql, name


def test_a_new_database_gets_the_0_1_0_schema_as_it_is_at_head(tmp_path: Path, fresh: sa.Engine) -> None:
    assert migrate.state(fresh) == "empty"
    assert migrate.current_revision(fresh) is None

    migrate.ensure_current(fresh)

    assert migrate.state(fresh) == "current"
    assert migrate.current_revision(fresh) == HEAD
    made, expected = _ddl(tmp_path / "new.db"), _at_head(_ddl(FIXTURE))
    assert sorted(made) == sorted(expected)
    for name, sql in expected.items():
        assert made[name] == sql, name
    assert _sequence(tmp_path / "new.db") == [("subscriber", 0)]
    assert not [p for p in tmp_path.iterdir() if ".backup-" in p.name], "a new database has nothing to back up"


def test_the_tables_and_the_migrations_agree(fresh: sa.Engine) -> None:
    """Autogenerate finds nothing to do at HEAD: a change to tables.py needs a migration."""
    migrate.ensure_current(fresh)
    with fresh.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_0_1_0_database_is_refused_then_upgraded_without_losing_a_row(
    tmp_path: Path, old: tuple[Path, sa.Engine]
) -> None:
    path, engine = old
    before = _dump(path)
    assert {table: len(rows) for table, rows in before.items()} == {
        "subscriber": 8,
        "ledger": 19,
        "run": 2,
        "heads_up": 1,
    }
    assert migrate.state(engine) == "unversioned"
    assert migrate.current_revision(engine) is None

    with pytest.raises(SchemaBehind) as refused:
        migrate.ensure_current(engine)
    message = str(refused.value)
    assert "anniversary db upgrade" in message
    assert "0.1.0 (before migrations)" in message
    assert "\n" not in message
    assert refused.value.exit_code == 2
    assert _dump(path) == before, "the refusal changed the database"

    report = migrate.upgrade(engine, now=NOW)

    backup = tmp_path / "subscribers-0.1.0.db.backup-20280120T040000Z-0.1.0"
    assert report == migrate.UpgradeReport("0.1.0", HEAD, backup, changed=True)
    assert sorted(p.name for p in tmp_path.iterdir() if ".backup-" in p.name) == [backup.name]
    with _sqlite(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert _dump(backup) == before
    assert _ddl(backup) == _ddl(FIXTURE)

    assert migrate.state(engine) == "current"
    assert migrate.current_revision(engine) == HEAD
    # Every row as it was, with the columns 0003 added empty at the end.
    assert _dump(path) == _with_0003_columns(before)
    assert _ddl(path) == _at_head(_ddl(FIXTURE))
    # The next id is above every id in the table (test_subscriber_ids.py: never reused).
    assert _sequence(path) == [("subscriber", 8)]
    migrate.ensure_current(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1, "the upgrade left foreign keys off"

    again = migrate.upgrade(engine, now=datetime(2028, 1, 21, tzinfo=UTC))
    assert again == migrate.UpgradeReport(HEAD, HEAD, None, changed=False)
    assert sorted(p.name for p in tmp_path.iterdir() if ".backup-" in p.name) == [backup.name]


def test_the_backup_goes_to_backup_dir(tmp_path: Path, old: tuple[Path, sa.Engine]) -> None:
    _path, engine = old
    folder = tmp_path / "backups"
    report = migrate.upgrade(engine, backup_dir=folder, now=NOW)
    assert report.backup == folder / "subscribers-0.1.0.db.backup-20280120T040000Z-0.1.0"
    assert report.backup.is_file()


NEXT = f"{int(HEAD) + 1:04d}"

LATER = f"""
import sqlalchemy as sa
from alembic import op

revision = "{NEXT}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscriber", recreate="always") as batch:
        batch.add_column(sa.Column("note", sa.String(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("subscriber", recreate="always") as batch:
        batch.drop_column("note")
"""


def test_a_later_migration_rebuilds_a_referenced_table_keeping_every_row(
    tmp_path: Path, old: tuple[Path, sa.Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at HEAD is "behind" a release with one more migration; the upgrade rebuilds the
    subscriber table the way SQLite needs (copy, drop, rename) without the drop taking
    the ledger rows that refer to it, or failing on them."""
    path, engine = old
    migrate.upgrade(engine, now=NOW)
    before = _dump(path)

    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{NEXT}_note.py").write_text(LATER, encoding="utf-8")
    monkeypatch.setattr(migrate, "MIGRATIONS", scripts)
    monkeypatch.setattr(migrate, "HEAD", NEXT)

    assert migrate.state(engine) == "behind"
    with pytest.raises(SchemaBehind, match=rf"is at schema {HEAD}, this release needs {NEXT}"):
        migrate.ensure_current(engine)

    report = migrate.upgrade(engine, now=datetime(2028, 2, 1, tzinfo=UTC))

    assert report.from_rev == HEAD and report.to_rev == NEXT and report.changed
    assert report.backup == tmp_path / f"subscribers-0.1.0.db.backup-20280201T000000Z-{HEAD}"
    assert _dump(report.backup) == before
    after = _dump(path)
    assert after["subscriber"] == [(*row, "") for row in before["subscriber"]]
    assert {t: after[t] for t in TABLES[1:]} == {t: before[t] for t in TABLES[1:]}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert migrate.state(engine) == "current"


def test_a_stranger_without_a_version_is_not_stamped(tmp_path: Path, fresh: sa.Engine) -> None:
    with fresh.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE subscriber (id INTEGER PRIMARY KEY, email VARCHAR)")
    assert migrate.state(fresh) == "unversioned"
    with pytest.raises(StoreError, match="not a 0.1.0 database"):
        migrate.upgrade(fresh, now=NOW)
    assert migrate.current_revision(fresh) is None


def test_the_check_on_open_reads_beside_a_writer(tmp_path: Path) -> None:
    """A current database is checked without the write lock: a command that only reads
    must not wait (up to the 60 s busy timeout) for a send that holds it."""
    path = tmp_path / "current.db"
    with _engine(path) as engine:
        migrate.ensure_current(engine)

    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO run (id, command, started_at, summary) VALUES ('w', 'send', '2028-01-01', '')")
    errors: list[BaseException] = []
    reports: list[migrate.UpgradeReport] = []
    engine = make_engine(f"sqlite:///{path}")

    def check() -> None:
        try:
            migrate.ensure_current(engine)
            reports.append(migrate.upgrade(engine))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=check, daemon=True)
    try:
        started = time.monotonic()
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "ensure_current waited for the write lock"
        assert not errors, errors
        assert time.monotonic() - started < 10
        assert reports == [migrate.UpgradeReport(HEAD, HEAD, None, changed=False)]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join(timeout=70)
        engine.dispose()


def test_a_newer_database_is_refused(fresh: sa.Engine) -> None:
    migrate.ensure_current(fresh)
    with fresh.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    assert migrate.state(fresh) == "ahead"
    assert migrate.current_revision(fresh) == "9999"
    with pytest.raises(SchemaAhead) as refused:
        migrate.ensure_current(fresh)
    assert "9999" in str(refused.value) and HEAD in str(refused.value)
    assert "\n" not in str(refused.value)
    with pytest.raises(SchemaAhead):
        migrate.upgrade(fresh)
    assert migrate.current_revision(fresh) == "9999"


def test_offline_sql_for_postgresql() -> None:
    """``alembic ... upgrade head --sql``: env.py works without a database."""
    config = migrate.alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql://")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE ledger" in sql
    assert "CONSTRAINT uq_ledger_entry UNIQUE (campaign, year, stage, subscriber_id)" in sql
    assert "FOREIGN KEY(subscriber_id) REFERENCES subscriber (id)" in sql
    assert "fk_ledger" not in sql
    # 0002 changes nothing on PostgreSQL (its sequence never reuses an id) but is recorded.
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
    in_0002 = sql.split("-- Running upgrade 0001 -> 0002", 1)[1].split("-- Running upgrade", 1)[0]
    assert [line for line in in_0002.splitlines() if line.strip() and line != "COMMIT;"] == [
        "UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';",
    ]
    assert f"version_num='{HEAD}'" in sql


# --- PostgreSQL ----------------------------------------------------------------------




def test_postgresql_new_database(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        assert migrate.state(engine) == "empty"
        report = migrate.upgrade(engine)
        assert report == migrate.UpgradeReport(None, HEAD, None, changed=True)
        assert migrate.state(engine) == "current"
        migrate.ensure_current(engine)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert set(inspector.get_table_names()) == {*TABLES, *NEW_IN_0003, *NEW_IN_0004, "alembic_version"}
            # 0.1.0 left the key unnamed, so PostgreSQL named it; a new database matches.
            assert [fk["name"] for fk in inspector.get_foreign_keys("ledger")] == ["ledger_subscriber_id_fkey"]
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def _upgrade_in_a_process(url: str, results: Any) -> None:
    engine = make_engine(url)
    try:
        results.put(migrate.upgrade(engine).changed)
    except BaseException as exc:
        results.put(repr(exc))
    finally:
        engine.dispose()


def test_postgresql_two_upgrades_at_once_migrate_once(pg_url: str) -> None:
    """The test holds the advisory lock until both processes wait for it, so both have
    seen an empty schema: without the lock both would create the tables."""
    lock = sa.text("SELECT pg_advisory_lock(:k)"), {"k": migrate.PG_LOCK_KEY}
    waiting = (
        sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid::bigint = :hi AND objid::bigint = :lo"
        ),
        {"hi": migrate.PG_LOCK_KEY >> 32, "lo": migrate.PG_LOCK_KEY & 0xFFFFFFFF},
    )
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    holder = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    engine = make_engine(pg_url)
    workers = [spawn.Process(target=_upgrade_in_a_process, args=(pg_url, results)) for _ in range(2)]
    try:
        with holder.connect() as conn:
            conn.execute(*lock)
            for worker in workers:
                worker.start()
            deadline = time.monotonic() + 30
            while conn.execute(*waiting).scalar() != 2:
                assert time.monotonic() < deadline, "the upgrades did not wait for the advisory lock"
                assert all(w.is_alive() for w in workers), "an upgrade ended without waiting for the lock"
                time.sleep(0.05)
            assert migrate.state(engine) == "empty"
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.PG_LOCK_KEY})
        outcomes = [results.get(timeout=30) for _ in workers]
        assert sorted(outcomes, key=str) == [False, True], outcomes
        assert migrate.state(engine) == "current"
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
        engine.dispose()
        holder.dispose()
