"""The grouped count behind `status`, `plan` and `run-due` (unsent_by_zone) against the
per-zone anti-join it replaces (count_unsent), for every mix of statuses, zones and
ledger entries, including the shortcuts it takes when a stage is untouched or done;
on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.store import Store, SubscriberRow

NOW = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)
ZONES = ["Asia/Baku", "Europe/Berlin", "UTC"]
STATUSES = ["active", "active", "active", "unsubscribed", "bounced", "pending"]


def _world(path: Path, people: list[tuple[int, int, bool, bool]]) -> Store:
    """(zone index, status index, has a reminder entry, has a day-of entry) a person."""
    if path.exists():
        path.unlink()
    store = Store(f"sqlite:///{path}")
    rows = [SubscriberRow(f"p{i}@example.com", "", "en", ZONES[z]) for i, (z, *_) in enumerate(people)]
    store.upsert_subscribers(rows, "import", NOW - timedelta(days=30))
    ids = [r["id"] for r in store.iter_subscribers()]
    # Entries first, while everyone is active (a claim needs that), then the statuses.
    for stage, column in (("reminder", 2), ("day-of", 3)):
        store.claim_ids(
            "bj", 2027, stage, [sid for sid, p in zip(ids, people, strict=True) if p[column]],
            claim_id="t", transport="outbox", now=NOW,
        )  # fmt: skip
    with sqlite3.connect(path) as db:
        db.executemany(
            "UPDATE subscriber SET status = ? WHERE id = ?",
            [(STATUSES[s], sid) for sid, (_, s, *_) in zip(ids, people, strict=True)],
        )
    return store


_PEOPLE = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, len(STATUSES) - 1), st.booleans(), st.booleans()), max_size=25
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_PEOPLE, st.sampled_from(["none", "all", "mixed"]))
def test_unsent_by_zone_matches_the_per_zone_count(tmp_path: Path, people: list, sent: str) -> None:
    # "none" and "all" reach the shortcuts: no entry at all, or every active person sent.
    if sent != "mixed":
        people = [(z, s, sent == "all", d) for z, s, _, d in people]
    store = _world(tmp_path / "s.db", people)
    for stage in ("reminder", "day-of"):
        got = store.unsent_by_zone("bj", 2027, stage)
        active_zones = {ZONES[z] for z, s, *_ in people if STATUSES[s] == "active"}
        assert set(got) == active_zones
        for zone in ZONES:
            assert got.get(zone, 0) == store.count_unsent("bj", 2027, stage, [zone]), (stage, zone)


def test_a_stage_done_for_everyone_still_active_counts_nobody_waiting(tmp_path: Path) -> None:
    # Sent to all four; one has since unsubscribed: entries (4) less theirs (1) = active (3).
    store = _world(
        tmp_path / "s.db", [(0, 0, True, False), (1, 0, True, False), (1, 0, True, False), (2, 3, True, False)]
    )
    assert store.unsent_by_zone("bj", 2027, "reminder") == {"Asia/Baku": 0, "Europe/Berlin": 0}
    assert store.unsent_by_zone("bj", 2027, "day-of") == {"Asia/Baku": 1, "Europe/Berlin": 2}
    assert store.active_zones() == ["Asia/Baku", "Europe/Berlin"]


def test_no_active_subscriber_means_no_zone(tmp_path: Path) -> None:
    store = _world(tmp_path / "s.db", [(0, 3, True, False), (2, 4, False, False)])
    assert store.unsent_by_zone("bj", 2027, "reminder") == {}
    assert store.active_zones() == []
