"""The per-target hourly limit under load: 500 submissions from 8 threads on a real
SQLite file, each sending what the queue lets go; then the queue drained hour by hour.
Every letter reaches each target exactly once, no target gets more than its limit in
any hour, and each target's letters go out in the order they were written."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from conftest import Project
from test_action import ADDRESS, NOW, TX, World, subscriber

from scheduler.lifecycle.action import LetterForm

N = 500
LIMIT = 60


def _submit(world: World, sid: int, now: datetime) -> bool:
    token = world.token(sid)
    csrf = world.actions.form_token(token, now)
    _, new = world.actions.submit(
        token, LetterForm("US-TX", f"Writer {sid}", ADDRESS, f"Letter {sid}"), csrf, token, now
    )
    return new


def test_500_submissions_hold_each_targets_hourly_limit_and_lose_none(project: Project) -> None:
    world = World(project)
    sids = [subscriber(world.lc, f"writer{i}@example.com", name=f"Writer {i}") for i in range(N)]
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda sid: _submit(world, sid, NOW), sids))

    db = sqlite3.connect(project.root / "subscribers.db")

    def states() -> Counter[tuple[str, str]]:
        return Counter(db.execute("select target_key, state from letter_delivery where kind = 'target'").fetchall())

    first = states()
    assert first == Counter({(t, "sent"): LIMIT for t in TX}) + Counter({(t, "queued"): N - LIMIT for t in TX})
    assert db.execute("select count(*) from letter_delivery where kind = 'copy' and state = 'sent'").fetchone() == (N,)

    # Within the hour nothing more goes; then each hour another LIMIT per target.
    assert world.actions.drain(NOW + timedelta(minutes=59)).sent == 0
    now = NOW
    while any(state == "queued" for _, state in states()):
        now += timedelta(hours=1)
        drained = world.actions.drain(now)
        assert drained.failed == 0 and 0 < drained.sent <= LIMIT * len(TX)
    assert now == NOW + timedelta(hours=(N + LIMIT - 1) // LIMIT - 1)
    assert states() == Counter({(t, "sent"): N for t in TX})

    # Exactly one message per (letter, target) in the outbox, none twice.
    received: Counter[tuple[str, str]] = Counter()
    for path in project.outbox.rglob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        to = msg["To"].addresses[0].addr_spec
        if to in TX:
            received[(to, msg["Reply-To"])] += 1
    assert len(received) == N * len(TX) and set(received.values()) == {1}

    # In order, and never more than LIMIT in any hour: claims are per-target sorted by
    # letter, and each claim time holds at most LIMIT of a target's letters.
    rows = db.execute(
        "select target_key, letter_id, claimed_at from letter_delivery where kind = 'target' order by id"
    ).fetchall()
    by_target: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key, letter_id, claimed in rows:
        by_target[key].append((letter_id, claimed))
    for claims in by_target.values():
        times = [datetime.fromisoformat(c).replace(tzinfo=UTC) for _, c in claims]
        assert times == sorted(times)
        for i, t in enumerate(times):
            assert sum(1 for u in times[i:] if u < t + timedelta(hours=1)) <= LIMIT
    db.close()
