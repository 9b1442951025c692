"""Subscriber ids are never handed out twice (migration 0002), so an unsubscribe link
``v1.<id>.<mac>`` signed for someone who was removed names no one, never the next
person added. Links signed before the upgrade keep naming the same people.

The one id the upgrade cannot protect is shown too: the 0.1.0 fixture's id 9, freed by
a remove before the upgrade (tests/fixtures/README.md), left no trace in the database,
so it is handed out once more, to the first subscriber added after the upgrade.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from conftest import SIGNING_KEY, Project

from scheduler.content.links import Signer
from scheduler.store import migrate
from scheduler.store.base import make_engine

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "subscribers-0.1.0.db"
PG_ENV = "ANNIVERSARY_TEST_POSTGRES_URL"
SIGNER = Signer(SIGNING_KEY.encode())
COLUMNS_0001 = "id, email, email_key, name, language, timezone, status, consent_at, consent_source, created_at, updated_at"


def _ids(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT email, id FROM subscriber ORDER BY id").fetchall())


def _rows(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT {COLUMNS_0001} FROM subscriber ORDER BY id").fetchall()


def _who_the_link_names(db: Path, link_token: str) -> str | None:
    """What an unsubscribe page does with a link: check the signature, then look the id
    up. None: the link names no one, and the page refuses it (no subscriber)."""
    subscriber_id = SIGNER.verify(link_token)
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT email FROM subscriber WHERE id = ?", (subscriber_id,)).fetchone()
    return row[0] if row else None


def _add(run, email: str) -> None:
    result = run("subscribers", "add", email, "--name", "New", "--timezone", "Europe/Berlin")
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{email}: added\n", "")


def _remove(run, email: str) -> None:
    result = run("subscribers", "remove", email)
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{email}: removed\n", "")


def test_an_upgraded_0_1_0_database_never_hands_an_id_out_twice(project: Project, run) -> None:
    db = project.root / "subscribers.db"
    shutil.copyfile(FIXTURE, db)
    before = _rows(db)
    at_upgrade = _ids(db)
    assert sorted(at_upgrade.values()) == list(range(1, 9))
    old_links = {email: SIGNER.token(sid) for email, sid in at_upgrade.items()}

    result = run("db", "upgrade")
    assert result.exit_code == 0 and result.stdout.endswith(f"database upgraded from schema 0.1.0 to {migrate.HEAD}\n")
    assert _rows(db) == before, "the upgrade changed or lost a subscriber"
    # Links mailed before the upgrade still name the same people.
    assert {email: _who_the_link_names(db, link) for email, link in old_links.items()} == {e: e for e in at_upgrade}

    used = set(at_upgrade.values())
    _add(run, "first@example.com")
    first = _ids(db)["first@example.com"]
    # gone@example.com's 9, freed before the upgrade, is the one id no database of
    # 0.1.0 remembers: the upgrade cannot tell it from one never used.
    assert first == 9 and first not in used
    used.add(first)
    first_link = SIGNER.token(first)
    _remove(run, "first@example.com")

    _add(run, "second@example.com")
    second = _ids(db)["second@example.com"]
    assert second not in used, f"id {second} handed out again"
    used.add(second)
    assert _who_the_link_names(db, first_link) is None, "first's link now names second"
    assert _who_the_link_names(db, SIGNER.token(second)) == "second@example.com"

    # The newest, one in the middle and every one of 0.1.0's: none of their ids comes back.
    middle = "olga.petrova@example.ru"
    assert at_upgrade[middle] == 5
    for email in ["second@example.com", middle, *sorted(at_upgrade.keys() - {middle})]:
        _remove(run, email)
    assert _ids(db) == {}
    _add(run, "third@example.com")
    third = _ids(db)["third@example.com"]
    assert third not in used, f"id {third} handed out again"
    assert third == max(used) + 1
    for email, link in [("first", first_link), *old_links.items()]:
        assert _who_the_link_names(db, link) is None, f"{email}'s link names {third}"
    assert _who_the_link_names(db, SIGNER.token(third)) == "third@example.com"


def test_a_new_database_never_hands_an_id_out_twice(project: Project, run) -> None:
    db = project.root / "subscribers.db"
    for n in range(3):
        _add(run, f"p{n}@example.com")
    assert _ids(db) == {"p0@example.com": 1, "p1@example.com": 2, "p2@example.com": 3}
    gone_link = SIGNER.token(3)
    _remove(run, "p2@example.com")
    _add(run, "p3@example.com")
    assert _ids(db)["p3@example.com"] == 4
    assert _who_the_link_names(db, gone_link) is None
    # An import takes new ids the same way.
    csv = project.write_csv("p4@example.com,Four,en,Europe/Berlin\n")
    _remove(run, "p3@example.com")
    assert run("subscribers", "import", str(csv)).exit_code == 0
    assert _ids(db)["p4@example.com"] == 5


# --- PostgreSQL ----------------------------------------------------------------------




INSERT = sa.text(
    "INSERT INTO subscriber (email, email_key, name, language, timezone, status, consent_at, consent_source,"
    " created_at, updated_at) VALUES (:e, :e, '', 'en', 'UTC', 'active', now(), 'test', now(), now()) RETURNING id"
)


def test_postgresql_upgrades_to_0002_changing_nothing_and_its_sequence_never_reuses(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), "0001")
            ids = [conn.execute(INSERT, {"e": f"p{n}@example.com"}).scalar() for n in range(3)]
            conn.exec_driver_sql("DELETE FROM subscriber WHERE email = 'p2@example.com'")
        assert ids == [1, 2, 3]
        with engine.connect() as conn:
            before = conn.exec_driver_sql(f"SELECT {COLUMNS_0001} FROM subscriber ORDER BY id").all()

        report = migrate.upgrade(engine)

        assert (report.from_rev, report.to_rev, report.changed) == ("0001", migrate.HEAD, True)
        assert migrate.current_revision(engine) == migrate.HEAD
        with engine.begin() as conn:
            assert conn.exec_driver_sql(f"SELECT {COLUMNS_0001} FROM subscriber ORDER BY id").all() == before
            assert conn.execute(INSERT, {"e": "new@example.com"}).scalar() == 4
    finally:
        engine.dispose()
