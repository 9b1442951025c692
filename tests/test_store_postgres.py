"""The store's claims are portable: the same code on a real PostgreSQL server."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.core.outcomes import Result, State
from scheduler.store import Store, SubscriberRow

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install '.[test]')")
    name = f"anniv_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 ({exc})")
    admin.execute(f"CREATE DATABASE {name}")
    store = Store(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        yield store
    finally:
        store.close()
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def _subscribers(store: Store, n: int) -> None:
    rows = [
        SubscriberRow(f"s{i}@example.com", f"S{i}", "en", "Europe/Berlin" if i % 2 else "Asia/Baku") for i in range(n)
    ]
    store.upsert_subscribers(rows, "import", NOW - timedelta(days=30))


def test_concurrent_claims_are_disjoint(pg_store: Store) -> None:
    _subscribers(pg_store, 400)
    claimed: list[list[int]] = [[], [], [], []]

    def worker(k: int) -> None:
        # Every worker reads the same candidates and races to claim them in batches.
        candidates = pg_store.candidates_range("bj", 2027, "reminder", after=0, upto=10_000)
        for seq, start in enumerate(range(0, len(candidates), 7)):
            won = pg_store.claim_ids(
                "bj",
                2027,
                "reminder",
                [c.subscriber_id for c in candidates[start : start + 7]],
                claim_id=f"w{k}.{seq}",
                transport="outbox",
                now=NOW,
            )
            claimed[k].extend(won)
            pg_store.record_all([Result(e, State.SENT, f"<{e}@x>") for e in won.values()], NOW)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [sid for part in claimed for sid in part]
    assert len(every) == len(set(every)) == 400
    assert pg_store.ledger_counts("bj", 2027) == {"reminder": {"sent": 400}}


def test_skip_and_zones_and_utc_round_trip(pg_store: Store) -> None:
    _subscribers(pg_store, 10)
    n = pg_store.skip_unsent(
        "bj",
        2027,
        "day-of",
        reason="past the late cutoff",
        claim_id="r.skip",
        transport="outbox",
        now=NOW,
        zones=["Asia/Baku"],
        consented_before=NOW,
    )
    assert n == 5
    assert pg_store.count_unsent("bj", 2027, "day-of") == 5
    entry = pg_store.entries("bj", 2027, "day-of", State.SKIPPED)[0]
    assert entry["updated_at"] == NOW and entry["updated_at"].tzinfo is not None
    assert entry["reason"] == "past the late cutoff"
    assert pg_store.active_zones() == ["Asia/Baku", "Europe/Berlin"]


def test_claiming_chosen_subscribers_returns_only_those_won(pg_store: Store) -> None:
    _subscribers(pg_store, 20)
    ids = [c.subscriber_id for c in pg_store.candidates_range("bj", 2027, "day-of", after=0, upto=10, grouped=True)]
    assert len(ids) == 10
    first = pg_store.claim_ids("bj", 2027, "day-of", ids[:6], claim_id="a.1", transport="sendgrid", now=NOW)
    second = pg_store.claim_ids("bj", 2027, "day-of", ids, claim_id="b.1", transport="sendgrid", now=NOW)
    assert sorted(first) == sorted(ids[:6]) and sorted(second) == sorted(ids[6:])
    assert all(e > 0 for e in [*first.values(), *second.values()])
    assert pg_store.ledger_counts("bj", 2027) == {"day-of": {"unknown": 10}}


def test_answers_ride_in_the_next_claim_on_postgres(pg_store: Store) -> None:
    """The send's hot statements run on psycopg's own cursor (%s placeholders): a claim
    that also writes the previous batch's answers, shared and single, in one go."""
    _subscribers(pg_store, 12)
    ids = [c.subscriber_id for c in pg_store.candidates_range("bj", 2027, "reminder", after=0, upto=10**9)]
    first = pg_store.claim_ids("bj", 2027, "reminder", ids[:6], claim_id="a.1", transport="sendgrid", now=NOW)
    entries = list(first.values())
    answers = [Result(e, State.SENT, "<req-1>") for e in entries[:5]]
    answers.append(Result(entries[5], State.FAILED, None, "SendGrid 400: bad address"))
    later = NOW + timedelta(seconds=3)
    second = pg_store.claim_ids(
        "bj", 2027, "reminder", ids, claim_id="a.2", transport="sendgrid", now=later, answers=answers
    )
    assert sorted(second) == ids[6:], "what the first claim won is not claimed again"
    rows = {e["subscriber_id"]: e for e in pg_store.entries("bj", 2027, "reminder")}
    assert [rows[s]["state"] for s in ids] == ["sent"] * 5 + ["failed"] + ["unknown"] * 6
    assert {rows[s]["message_id"] for s in ids[:5]} == {"<req-1>"}
    assert rows[ids[5]]["reason"] == "SendGrid 400: bad address" and rows[ids[0]]["updated_at"] == later
