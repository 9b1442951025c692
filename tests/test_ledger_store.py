"""The ledger on SQLite as a send drives it: claims name what they won, answers
ride in the next claim's transaction, reads never hold the write lock, and the indexes
of earlier versions are dropped on open."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.core.outcomes import Result, State
from scheduler.store import Store, StoreError, SubscriberRow, upgrade_database

NOW = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)


def _store(path: Path, n: int) -> Store:
    store = Store(f"sqlite:///{path}")
    rows = [SubscriberRow(f"s{i}@example.com", f"S{i}", "en", "Asia/Baku") for i in range(n)]
    store.upsert_subscribers(rows, "import", NOW - timedelta(days=30))
    return store


def _ids(store: Store) -> list[int]:
    return [c.subscriber_id for c in store.candidates_range("bj", 2027, "reminder", after=0, upto=10**9)]


def test_claim_ids_maps_each_subscriber_won_to_its_entry(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.db", 30)
    ids = _ids(store)
    first = store.claim_ids("bj", 2027, "reminder", ids[:20], claim_id="a.1", transport="sendgrid", now=NOW)
    second = store.claim_ids("bj", 2027, "reminder", ids[10:], claim_id="b.1", transport="sendgrid", now=NOW)
    assert sorted(first) == ids[:20] and sorted(second) == ids[20:], "the overlap goes to the first claim only"
    entries = {e["subscriber_id"]: e for e in store.entries("bj", 2027, "reminder")}
    for won in (first, second):
        for sid, eid in won.items():
            assert entries[sid]["id"] == eid and entries[sid]["state"] == "unknown"


def test_claim_ids_of_nobody_new_is_empty(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.db", 3)
    ids = _ids(store)
    store.claim_ids("bj", 2027, "reminder", ids, claim_id="a.1", transport="sendgrid", now=NOW)
    assert store.claim_ids("bj", 2027, "reminder", ids, claim_id="a.2", transport="sendgrid", now=NOW) == {}
    assert store.claim_ids("bj", 2027, "reminder", [], claim_id="a.3", transport="sendgrid", now=NOW) == {}


def test_answers_are_written_in_the_next_claims_transaction(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.db", 6)
    ids = _ids(store)
    won = store.claim_ids("bj", 2027, "reminder", ids[:3], claim_id="a.1", transport="sendgrid", now=NOW)
    answers = [Result(eid, State.SENT, "<mid-1>") for eid in won.values()]
    later = NOW + timedelta(seconds=5)
    store.claim_ids("bj", 2027, "reminder", ids[3:], claim_id="a.2", transport="sendgrid", now=later, answers=answers)
    states = {e["subscriber_id"]: (e["state"], e["message_id"]) for e in store.entries("bj", 2027, "reminder")}
    assert [states[s] for s in ids] == [("sent", "<mid-1>")] * 3 + [("unknown", None)] * 3


def test_a_read_in_progress_does_not_block_a_claim(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = _store(path, 10)
    ids = _ids(store)
    reader = store.engine.connect().execution_options(anniversary_read_only=True)
    try:
        reader.exec_driver_sql("SELECT count(*) FROM subscriber").all()  # a read transaction stays open
        done: list[dict[int, int]] = []
        t = threading.Thread(
            target=lambda: done.append(
                store.claim_ids("bj", 2027, "reminder", ids, claim_id="a.1", transport="sendgrid", now=NOW)
            )
        )
        t.start()
        t.join(timeout=10)
        assert done and len(done[0]) == 10, "the claim waited for the reader"
    finally:
        reader.close()


def test_obsolete_ledger_indexes_are_dropped_by_the_upgrade(tmp_path: Path) -> None:
    """A database from before release 0.1.0 carries two ledger indexes that every claim
    and answer had to update: the upgrade that adopts it drops them."""
    path = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "subscribers-0.1.0.db", path)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE INDEX ix_ledger_run_state ON ledger (run_id, state)")
        conn.execute("CREATE INDEX ix_ledger_cys_state ON ledger (campaign, year, stage, state)")
    with pytest.raises(StoreError, match="anniversary db upgrade"):
        Store(f"sqlite:///{path}")
    upgrade_database(f"sqlite:///{path}")
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not names & {"ix_ledger_run_state", "ix_ledger_cys_state"}
    assert "ix_subscriber_status_zone" in names


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sets(st.integers(min_value=0, max_value=39), max_size=40), min_size=1, max_size=6))
def test_claims_in_any_order_hand_out_each_entry_once(claims: list[set[int]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp) / "s.db", 40)
        ids = _ids(store)
        owner: dict[int, int] = {}
        for k, picks in enumerate(claims):
            want = [ids[i] for i in sorted(picks)]
            won = store.claim_ids("bj", 2027, "reminder", want, claim_id=f"c.{k}", transport="outbox", now=NOW)
            assert set(won) == {s for s in want if s not in owner}
            for sid, eid in won.items():
                owner[sid] = eid
        entries = store.entries("bj", 2027, "reminder")
        assert {e["subscriber_id"]: e["id"] for e in entries} == owner
        store.close()


def test_a_write_holds_its_transaction_before_its_first_statement(tmp_path: Path) -> None:
    """The ledger's hot statements run on the driver's cursor inside _write(): that is
    atomic only because BEGIN IMMEDIATE has already been issued when it yields."""
    store = _store(tmp_path / "s.db", 1)
    with store._write() as conn:
        assert conn.connection.driver_connection.in_transaction
    with store._read() as conn:
        assert not conn.connection.driver_connection.in_transaction
