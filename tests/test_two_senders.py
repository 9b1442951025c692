"""One sender at a time: two real processes on one SQLite database
never send the same ledger entry twice.

Each process writes to its own outbox folder (two config files beside one database), so
a duplicate shows up as a second .eml rather than overwriting the first (outbox file
names are the entry id).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daemon_helpers import (
    add_subscribers,
    daemon_env,
    due_now_campaign,
    ledger,
    read_outbox,
    start_daemon,
    write_config,
)

from scheduler.config import load_config

N = 400


def _wait_all_sent(db: Path, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=30) as conn:
            done = conn.execute("SELECT count(*) FROM ledger WHERE state != 'unknown'").fetchone()[0]
        if done >= N:
            return
        for p in procs:
            if p.poll() not in (None, 0):
                raise AssertionError(p.communicate()[1].decode())
        time.sleep(0.2)
    raise AssertionError(f"only {done} of {N} entries answered after {timeout} s")


def _two_configs(tmp_path: Path) -> tuple[Path, Path]:
    campaign = due_now_campaign()
    # Small claims, so the two processes interleave on the ledger many times.
    a = write_config(tmp_path, campaign, name="a.toml", outbox="outbox-a", batch_size=5, claim_size=10)
    b = write_config(tmp_path, campaign, name="b.toml", outbox="outbox-b", batch_size=5, claim_size=10)
    add_subscribers(load_config(a), {"UTC": N // 2, "Etc/UTC": N // 2}, datetime(2026, 1, 1, tzinfo=UTC))
    return a, b


def _assert_exactly_once(tmp_path: Path) -> Counter[str]:
    mails = read_outbox(tmp_path / "outbox-a", tmp_path / "outbox-b")
    per_subscriber = Counter(m.to for m in mails)
    assert len(per_subscriber) == N and set(per_subscriber.values()) == {1}
    rows = ledger(tmp_path / "subscribers.db")
    assert len(rows) == N and Counter(r[4] for r in rows) == {"sent": N}
    assert Counter(r[3] for r in rows) == per_subscriber
    return Counter(m.path.relative_to(tmp_path).parts[0] for m in mails)


def test_two_daemons_on_one_database_send_every_entry_exactly_once(tmp_path: Path) -> None:
    a, b = _two_configs(tmp_path)
    procs = [start_daemon(a, daemon_env()), start_daemon(b, daemon_env())]
    try:
        _wait_all_sent(tmp_path / "subscribers.db", procs)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        errs = [p.communicate(timeout=60)[1].decode() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], errs
    by_outbox = _assert_exactly_once(tmp_path)
    print("messages per process:", dict(by_outbox))


@pytest.mark.parametrize("cron_runs", [3])
def test_daemon_and_cron_run_due_together_send_every_entry_exactly_once(tmp_path: Path, cron_runs: int) -> None:
    a, b = _two_configs(tmp_path)
    daemon = start_daemon(a, daemon_env())
    # cron fires `anniversary run-due` every minute; here several at once, racing the daemon.
    crons = [
        subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run-due", "--config", str(b)],
            env=daemon_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(cron_runs)
    ]
    try:
        for c in crons:
            _, err = c.communicate(timeout=60)
            assert c.returncode == 0, err.decode()
        _wait_all_sent(tmp_path / "subscribers.db", [daemon])
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        for p in [daemon, *crons]:
            if p.poll() is None:
                p.kill()
    assert daemon.returncode == 0, err.decode()
    by_outbox = _assert_exactly_once(tmp_path)
    print("messages per process:", dict(by_outbox))
