"""PostgreSQL across machines: every command on a PostgreSQL database, and two real
daemon processes sharing one, sending 50,000 entries through the SendGrid transport
into a loopback sink (tests/sg_sink.py): each entry once, the work split between them,
and a daemon killed mid-run leaving only its own batches in flight `unknown`.

Against the server named by ANNIVERSARY_TEST_POSTGRES_URL (`.ci/run` sets it); the
tests skip, saying so, where it is unset."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import REPO, Project
from daemon_helpers import daemon_env, due_now_campaign, start_daemon
from sg_sink import Sink, running_sink
from sg_world import API_KEY

from scheduler.store import Store
from scheduler.store.subscribers import ImportRow

N = 50_000
NOW = datetime.now(UTC)


@pytest.fixture
def quiet_sink() -> Iterator[Sink]:
    # The bodies are SendGrid's own JSON (checked against the spec in test_sendgrid);
    # validating 50 bodies of 1,000 personalizations would dominate the test.
    yield from running_sink(validate=False)


def _config(folder: Path, pg_url: str, sink: Sink, campaign: str | None = None) -> Path:
    """The shipped config.toml on PostgreSQL, the transport switched to SendGrid with no
    batch settings (its defaults: 1,000 a request, concurrency 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "templates").exists():
        shutil.copytree(REPO / "templates", folder / "templates")
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///subscribers.db"', f'url = "{pg_url}"', 1)
    text = text.replace('kind = "outbox"', 'kind = "sendgrid"', 1)
    text = text.replace("[organizers]", f'[transport.sendgrid]\nhost = "{sink.url}"\n\n[organizers]', 1)
    if campaign is not None:
        text = text.split("[[campaign]]", 1)[0] + campaign
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _subscribers(pg_url: str, n: int) -> None:
    store = Store(pg_url)
    for start in range(0, n, 5000):
        rows = [ImportRow(f"p{i}@example.com", f"P {i}", "en", "UTC") for i in range(start, min(n, start + 5000))]
        store.import_subscribers(rows, "import", NOW)
    store.close()


def _ledger(pg_url: str) -> dict[str, int]:
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT state, count(*) FROM ledger GROUP BY state").all()
    engine.dispose()
    return {str(state): int(n) for state, n in rows}


def _unknown_ids(pg_url: str) -> set[int]:
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        ids = {int(i) for (i,) in conn.exec_driver_sql("SELECT id FROM ledger WHERE state = 'unknown'")}
    engine.dispose()
    return ids


def _wait(pg_url: str, done: object, procs: list[subprocess.Popen[bytes]], timeout: float = 240) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    states: dict[str, int] = {}
    while time.monotonic() < deadline:
        states = _ledger(pg_url)
        if done(states):  # type: ignore[operator]
            return states
        for p in procs:
            if p.poll() not in (None, 0):
                raise AssertionError(p.communicate()[1].decode()[-3000:])
        time.sleep(0.3)
    raise AssertionError(f"not done after {timeout} s: {states}")


def _stop(procs: list[subprocess.Popen[bytes]]) -> list[str]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    errs = []
    for p in procs:
        try:
            errs.append(p.communicate(timeout=60)[1].decode())
        finally:
            if p.poll() is None:
                p.kill()
    return errs


def _sent_once(sink: Sink) -> Counter[str]:
    per_address = Counter(a for s in sink.seen if s.accepted for a in s.addresses())
    assert set(per_address.values()) == {1}, [a for a, k in per_address.items() if k > 1][:5]
    return per_address


def test_two_daemons_on_one_postgresql_send_50000_once_each_and_split_the_work(
    tmp_path: Path, pg_url: str, quiet_sink: Sink
) -> None:
    campaign = due_now_campaign()
    configs = [_config(tmp_path / name, pg_url, quiet_sink, campaign) for name in ("a", "b")]
    _subscribers(pg_url, N)
    env = daemon_env(SENDGRID_API_KEY=API_KEY)
    procs = [start_daemon(c, env) for c in configs]
    try:
        states = _wait(pg_url, lambda s: s.get("sent", 0) >= N, procs)
    finally:
        errs = _stop(procs)
    assert [p.returncode for p in procs] == [0, 0], errs
    assert states == {"sent": N}
    assert len(_sent_once(quiet_sink)) == N
    # Each daemon claimed a share: the windows were split, not raced for.
    shares = [
        sum(int(m) for m in re.findall(r"scheduler\.delivery\.runs: \S+ \d+ day-of \(UTC\): sent (\d+)", e))
        for e in errs
    ]
    assert sum(shares) == N and min(shares) > 0, (shares, [e[-2000:] for e in errs])


def test_a_daemon_killed_mid_run_leaves_only_its_own_batches_unknown(
    tmp_path: Path, pg_url: str, quiet_sink: Sink
) -> None:
    campaign = due_now_campaign()
    configs = [_config(tmp_path / name, pg_url, quiet_sink, campaign) for name in ("a", "b")]
    _subscribers(pg_url, N)
    env = daemon_env(SENDGRID_API_KEY=API_KEY)
    victim, survivor = start_daemon(configs[0], env), start_daemon(configs[1], env)
    try:
        _wait(pg_url, lambda s: s.get("sent", 0) >= 10_000, [victim, survivor])
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        # In flight now: the victim's last batches and the survivor's current ones.
        in_flight = _unknown_ids(pg_url)
        # The survivor goes on; the victim, restarted as systemd would, takes up the
        # windows it held, but never its own batches in flight.
        victim = start_daemon(configs[0], env)
        states = _wait(pg_url, lambda s: s.get("sent", 0) + s.get("unknown", 0) >= N, [victim, survivor])
        time.sleep(1.0)  # nothing more arrives
        states = _ledger(pg_url)
        unknown = _unknown_ids(pg_url)
    finally:
        errs = _stop([victim, survivor])
    assert [victim.returncode, survivor.returncode] == [0, 0], errs
    assert sum(states.values()) == N and set(states) <= {"sent", "unknown"}, states
    # Only batches the victim had claimed when it was killed are unknown: at most its
    # concurrency (2) times its batch size (1,000), SendGrid's defaults.
    assert unknown <= in_flight, "an entry claimed after the kill is unknown: the survivor's all ended"
    assert len(unknown) <= 2 * 1000, len(unknown)
    print("unknown after the kill:", len(unknown))
    sent = _sent_once(quiet_sink)
    assert len(sent) >= states["sent"], "every entry recorded sent reached the sink"


def test_every_command_works_on_postgresql(run, project: Project, pg_url: str) -> None:
    project.edit_config('url = "sqlite:///subscribers.db"', f'url = "{pg_url}"')
    path = project.write_csv("ana@example.com,Ana,az,Asia/Baku\nbo@example.com,Bo,en,UTC\nbad,X,en,UTC\n")
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (1, "2 added, 0 updated, 0 unchanged, 1 rejected\n")
    assert run("subscribers", "import", str(path)).stdout == "0 added, 0 updated, 2 unchanged, 1 rejected\n"
    assert run("subscribers", "add", "cy@example.com", "--timezone", "UTC").stdout == "cy@example.com: added\n"
    assert "total\t3" in run("subscribers", "count").stdout
    assert run("subscribers", "list").stdout.count("\n") == 3
    assert run("subscribers", "export").stdout.startswith("email,name,language,timezone,status,consent_at")
    assert run("send", "black-january", "reminder", "--year", "2027", "--dry-run").exit_code == 0
    sent = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert sent.exit_code == 0, sent.stderr
    assert len(project.emls()) == 3
    status = run("status", "--year", "2027")
    assert status.exit_code == 0 and "  reminder: done; sent 3, failed 0" in status.stdout
    assert run("plan").exit_code == 0
    due = run("run-due", "--dry-run", "--now", "2027-01-25T12:00:00Z")
    assert due.exit_code == 0 and "would skip black-january 2027 day-of" in due.stdout
    assert run("run-due", "--now", "2027-01-25T12:00:00Z").exit_code == 0
    assert "  day-of: done; sent 0, failed 0, skipped 3" in run("status", "--year", "2027").stdout
    assert run("subscribers", "remove", "bo@example.com").stdout == "bo@example.com: removed\n"
    assert run("db", "upgrade").exit_code == 0
    assert os.environ.get("ANNIVERSARY_TEST_POSTGRES_URL")
