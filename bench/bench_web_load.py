"""Benchmark: RFC 8058 one-click unsubscribes under load while a stage is being sent. Not
a test: run it by hand and record the numbers in BENCHMARKS.md.

    .venv/bin/python bench/bench_web_load.py --subscribers 100000 --rate 200 --seconds 30

What it does, in a fresh copy of the shipped project (config.toml, templates; the outbox
transport) in a temporary folder:

1. writes N active subscribers into its SQLite file (4 languages, 8 zones);
2. starts ``anniversary serve`` on a free loopback port, as its own process;
3. signs ``rate x seconds`` one-click links with the signing key, one per subscriber,
   for subscribers drawn at random;
4. starts ``anniversary send black-january reminder --yes`` (its own process), and once
   it has begun, ``wrk`` (a third process) posting ``List-Unsubscribe=One-Click`` to
   those links at the given rate (bench/one_click.lua paces it; Debian's wrk has no -R);
5. waits for both, then checks: every subscriber whose one-click was answered 200 (the
   answer's page names them; one_click.lua writes their ids down) is ``unsubscribed``
   in the database (none lost); the stage's ledger has one entry per
   subscriber (its unique key) and the outbox holds exactly as many messages as the
   ledger says were sent (no duplicate); and prints wrk's latency distribution.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LANGS = ["en", "az", "ru", "tr"]
ZONES = ["Asia/Baku", "Europe/Berlin", "America/Los_Angeles", "Europe/London", "Asia/Tokyo",
         "America/New_York", "Europe/Istanbul", "Australia/Sydney"]  # fmt: skip
KEY_ENV = "ANNIVERSARY_SIGNING_KEY"
ANNIVERSARY = str(Path(sys.executable).with_name("anniversary"))


def project(root: Path) -> Path:
    shutil.copy(REPO / "config.toml", root / "config.toml")
    shutil.copytree(REPO / "templates", root / "templates")
    return root / "config.toml"


def generate(db: Path, n: int) -> None:
    from scheduler.store import upgrade_database

    upgrade_database(f"sqlite:///{db}")  # the schema, as the application makes it
    conn = sqlite3.connect(db)
    stamp = "2026-01-01 00:00:00.000000"
    rows = (
        (f"s{i}@example.com", f"s{i}@example.com", f"Name {i}", LANGS[i % 4], ZONES[(i // 4) % len(ZONES)],
         "active", stamp, "import", stamp, stamp)
        for i in range(n)
    )  # fmt: skip
    with conn:
        conn.executemany(
            "INSERT INTO subscriber (email, email_key, name, language, timezone, status, consent_at,"
            " consent_source, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    conn.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"anniversary serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("anniversary serve did not answer /healthz")


def links(config_path: Path, ids: list[int]) -> list[str]:
    from scheduler.config import load_config
    from scheduler.content.tokens import Keyring

    keyring = Keyring.from_config(load_config(config_path))
    return [f"/anniversary/unsubscribe/{keyring.unsubscribe(sid)}" for sid in ids]


def wrk_figures(out: str) -> dict[str, object]:
    figures: dict[str, object] = {}
    for name in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{name}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[f"p{name}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    for line in out.splitlines():
        if line.startswith("lua: p"):
            name, value = line[5:].split(" ", 1)
            figures[f"lua_{name}_ms"] = float(value.split()[0])
    match = re.search(r"(\d+) requests in ([\d.]+)s", out)
    if match:
        figures["requests"], figures["seconds"] = int(match.group(1)), float(match.group(2))
    match = re.search(r"lua: issued (\d+), answered (\d+), not 200: (\d+)", out)
    if match:
        figures["issued"], figures["answered"], figures["not_200"] = (int(g) for g in match.groups())
    figures["socket_errors"] = re.search(r"Socket errors:.*", out).group(0) if "Socket errors" in out else "none"  # type: ignore[union-attr]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=200, help="one-click POSTs a second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "bench-signing-key-0123456789-abcdefghij")
    root = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        run(root, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> None:
    config = project(root)
    db = root / "subscribers.db"
    started = time.perf_counter()
    generate(db, args.subscribers)
    print(f"{args.subscribers} subscribers written in {time.perf_counter() - started:.1f} s", flush=True)

    port = free_port()
    serve = subprocess.Popen(
        [ANNIVERSARY, "serve", "--bind", f"127.0.0.1:{port}", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "serve.log", "wb"),  # noqa: SIM115
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/anniversary/healthz", serve)
        # A few seconds' more links than the run needs, so no link is posted twice.
        n_links = args.rate * (args.seconds + 5)
        ids = random.Random(8058).sample(range(1, args.subscribers + 1), n_links)
        paths = root / "paths.txt"
        paths.write_text("\n".join(links(config, ids)) + "\n", encoding="ascii")

        send_log = open(root / "send.log", "wb")  # noqa: SIM115
        send_started = time.perf_counter()
        send = subprocess.Popen(
            [ANNIVERSARY, "send", "black-january", "reminder", "--year", "2027", "--yes", "--config", str(config)],
            stdout=send_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        send_end: dict[str, float] = {}
        threading.Thread(
            target=lambda: (send.wait(), send_end.setdefault("t", time.perf_counter())), daemon=True
        ).start()
        # wrk starts once the send is claiming (its first ledger rows exist).
        while send.poll() is None and not _ledger_rows(db):
            time.sleep(0.05)
        wrk_started = time.perf_counter()
        wrk = subprocess.run(
            ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "--timeout", "10s",
             "-s", str(REPO / "bench" / "one_click.lua"), f"http://127.0.0.1:{port}", "--", str(paths), str(args.rate),
             str(root / "answered.txt")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        wrk_ended = time.perf_counter()
        send.wait()
        while "t" not in send_end:
            time.sleep(0.01)
        send_log.close()
    finally:
        serve.terminate()
        serve.wait(timeout=30)

    print(wrk.stdout)
    figures = wrk_figures(wrk.stdout)
    check = verify(root, db, ids, int(figures.get("issued", 0)))  # type: ignore[call-overload]
    figures.update(check)
    figures["send_exit"] = send.returncode
    figures["send_output"] = (root / "send.log").read_text(encoding="utf-8").strip().splitlines()[-3:]
    figures["send_seconds"] = round(send_end["t"] - send_started, 1)
    figures["wrk_window_s"] = [round(wrk_started - send_started, 1), round(wrk_ended - send_started, 1)]
    print(json.dumps(figures, indent=2))


def _ledger_rows(db: Path) -> int:
    try:
        conn = sqlite3.connect(db, timeout=1)
        try:
            return int(conn.execute("select count(*) from ledger").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def verify(root: Path, db: Path, ids: list[int], issued: int) -> dict[str, object]:
    """None lost, no duplicate: the database and the outbox, read after both ended."""
    answered = {int(line) for line in (root / "answered.txt").read_text(encoding="ascii").split()}
    conn = sqlite3.connect(db)
    status = dict(conn.execute("select id, status from subscriber").fetchall())
    lost = sorted(sid for sid in answered if status.get(sid) != "unsubscribed")
    # Posted when wrk stopped, so never answered: the server may or may not have got them.
    unanswered = [sid for sid in ids[:issued] if sid not in answered]
    total, distinct = conn.execute("select count(*), count(distinct subscriber_id) from ledger").fetchone()
    states = dict(conn.execute("select state, count(*) from ledger group by state").fetchall())
    claimed = {r[0] for r in conn.execute("select subscriber_id from ledger")}
    conn.close()
    outbox = sum(1 for _ in (root / "outbox").rglob("*.eml"))
    return {
        "answered_200_with_their_page": len(answered),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "unanswered_at_the_end": len(unanswered),
        "unanswered_unsubscribed_anyway": sum(status.get(sid) == "unsubscribed" for sid in unanswered),
        "ledger_entries": total,
        "ledger_distinct_subscribers": distinct,
        "ledger_states": states,
        "outbox_messages": outbox,
        "unsubscribed_before_their_claim": len(answered - claimed),
        "no_duplicate": total == distinct and outbox == states.get("sent", 0),
    }


if __name__ == "__main__":
    main()
