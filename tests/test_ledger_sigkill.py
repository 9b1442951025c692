"""Exactly once: a send killed with SIGKILL at any point, then started again, sends each
remaining subscriber once and never resends one already sent."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

from conftest import SIGNING_KEY, Project

N = 600


def _start(project: Project) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ANNIVERSARY_SIGNING_KEY=SIGNING_KEY)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduler",
            "send",
            "black-january",
            "day-of",
            "--year",
            "2027",
            "--yes",
            "--config",
            str(project.config),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _entries(project: Project) -> int:
    path = project.root / "subscribers.db"
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=30)
    try:
        return int(db.execute("select count(*) from ledger").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being made
        return 0
    finally:
        db.close()


def _state(project: Project) -> tuple[dict[int, str], Counter[str]]:
    db = sqlite3.connect(project.root / "subscribers.db")
    entries = dict(db.execute("select id, state from ledger").fetchall())
    db.close()
    recipients: Counter[str] = Counter()
    for path in project.emls():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        recipients[msg["To"].addresses[0].addr_spec] += 1
    return entries, recipients


def _check_invariants(project: Project) -> dict[int, str]:
    entries, recipients = _state(project)
    files = {int(p.stem) for p in project.emls()}
    assert all(n == 1 for n in recipients.values()), "no address receives the stage twice"
    assert files <= set(entries), "no message without a ledger entry"
    for entry, state in entries.items():
        if state == "sent":
            assert entry in files, f"entry {entry} is sent but has no file"
        else:
            assert state == "unknown", state
    return entries


def test_sigkill_at_any_point_never_resends(project: Project) -> None:
    rows = "".join(f"s{i:04d}@example.com,S {i},{['en', 'az', 'ru', 'tr'][i % 4]},Europe/Berlin\n" for i in range(N))
    csv = project.write_csv(rows)
    project.edit_config('outbox_dir = "outbox"', 'outbox_dir = "outbox"\nbatch_size = 25')
    subprocess.run(
        [sys.executable, "-m", "scheduler", "subscribers", "import", str(csv), "--config", str(project.config)],
        check=True,
        capture_output=True,
    )
    kills = 0
    for round_ in range(12):
        seen = _entries(project)
        proc = _start(project)
        # Killed as soon as this run has claimed something, plus a little more each
        # round: never before it starts, whatever the machine's speed or load.
        deadline = time.monotonic() + 60
        while proc.poll() is None and _entries(project) == seen and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.02 * round_)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        _check_invariants(project)
    final = _start(project)
    assert final.wait(timeout=120) == 0, final.stderr.read() if final.stderr else ""
    entries = _check_invariants(project)
    assert kills >= 2, "the runs were too fast to be killed mid-send; raise N"
    assert len(entries) == N, "every subscriber ends in exactly one ledger state"
    states = Counter(entries.values())
    # At most one claimed batch per kill is in flight and left unknown.
    assert states["unknown"] <= kills * 25
    _, recipients = _state(project)
    assert sum(recipients.values()) >= states["sent"]
    # A third run sends nothing new.
    again = _start(project)
    assert again.wait(timeout=60) == 0
    assert _state(project)[1] == recipients
