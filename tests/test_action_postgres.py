"""The letter statements on a real PostgreSQL server (conftest's ``pg_url``): one letter
per campaign year even when submissions race, and concurrent claims of the queue that
are disjoint and hold each target's hourly limit."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from scheduler.store import Store, SubscriberRow

NOW = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)
TARGETS = [{"email": "rep@example.org", "name": "Rep"}, {"email": "sen@example.org", "name": "Sen"}]


def _letter(sid: int, region: str = "US-TX") -> dict[str, object]:
    return {
        "campaign": "bj",
        "year": 2027,
        "subscriber_id": sid,
        "language": "en",
        "region": region,
        "name": f"Writer {sid}",
        "address": "1 Main St",
        "subject": "For the record",
        "text": "Dear Senator,\n",
    }


def test_racing_submissions_record_one_letter(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        store.upsert_subscribers([SubscriberRow("a@example.com", "A", "en", "UTC")], "import", NOW)
        results: list[bool] = []

        def submit(region: str) -> None:
            results.append(store.record_letter(_letter(1, region), TARGETS, NOW, copy=True).new)

        threads = [threading.Thread(target=submit, args=(r,)) for r in ("US-TX", "US-NY") * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False] * 7 + [True]
        letter = store.letter_of("bj", 2027, 1)
        assert letter is not None and len(letter["deliveries"]) == 2
        assert store.letters_count("bj", 2027) == 1
    finally:
        store.close()


def test_concurrent_claims_are_disjoint_and_hold_the_hourly_limit(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        rows = [SubscriberRow(f"s{i}@example.com", f"S{i}", "en", "UTC") for i in range(120)]
        store.upsert_subscribers(rows, "import", NOW)
        for sid in range(1, 121):
            store.record_letter(_letter(sid), TARGETS, NOW, copy=False)
        claimed: list[list[int]] = [[] for _ in range(6)]

        def worker(k: int) -> None:
            while got := store.claim_deliveries("bj", 25, 7, NOW):
                claimed[k].extend(c.id for c in got)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [i for part in claimed for i in part]
        assert len(ids) == len(set(ids)) == 50  # 25 for each of the two targets, none twice
        later = store.claim_deliveries("bj", 25, 1000, NOW + timedelta(hours=1, seconds=1))
        assert Counter(c.target_email for c in later) == {"rep@example.org": 25, "sen@example.org": 25}
        assert min(c.letter_id for c in later) > 25  # in order: the first 25 letters went first
    finally:
        store.close()
