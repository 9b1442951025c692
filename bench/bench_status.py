"""Benchmark: ``anniversary status``, ``anniversary subscribers count`` and
``anniversary run-due`` (nothing due, and past the event with every late slot already
handled) on a million subscribers with a million-entry ledger, as a user runs them.
Not a test: run it by hand and record the numbers in BENCHMARKS.md.

    .venv/bin/python bench/bench_status.py 100000 1000000 --runs 5

For each size it writes a CSV (bench_import's), copies the shipped ``config.toml`` and
templates, imports the CSV with the real command, and fills the ledger as a finished
send of the ``reminder`` stage leaves it (one ``sent`` entry per subscriber, written
by SQL: the send itself is bench_sendgrid's). Each command runs ``--runs`` times in a
child process; wall times are reported as minimum and median, beside the time the
interpreter needs to start the command at all (``anniversary --help``), which bounds
every command from below. Then one ``run-due`` past the event skips the ``day-of``
stage for everyone, and ``run-due`` (all late slots handled) and ``status`` are timed
again on the two-million-entry ledger. The machine is shared and noisy: quote minimums.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import project, write_csv

ENV = {**os.environ, "ANNIVERSARY_SIGNING_KEY": "bench-signing-key-0123456789abcdefghijKLMNOP"}
#: timed on a million-entry ledger (one stage sent to everyone)
BEFORE = {
    "--help (start-up)": ["--help"],
    "status": ["status", "--year", "2027"],
    "subscribers count": ["subscribers", "count"],
    "run-due, nothing due": ["run-due", "--now", "2026-12-01T12:00:00Z"],
}
LATE = ["run-due", "--now", "2027-01-25T12:00:00Z"]
#: timed after the late skips: the second stage skipped for everyone, two million entries
AFTER = {
    "run-due, all late slots handled": LATE,
    "status (2 entries a subscriber)": ["status", "--year", "2027"],
}


def anniversary(config: Path, args: list[str]) -> tuple[float, str]:
    exe = Path(sys.executable).with_name("anniversary")
    argv = [str(exe), *args] + ([] if args == ["--help"] else ["--config", str(config)])
    started = time.perf_counter()
    done = subprocess.run(argv, env=ENV, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, (done.stdout.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def fill_ledger(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO ledger (campaign, year, stage, subscriber_id, state, message_id, reason, run_id, transport,"
            " updated_at) SELECT 'black-january', 2027, 'reminder', id, 'sent', 'bench-' || id, NULL, 'bench',"
            " 'sendgrid', '2027-01-13 06:00:00.000000' FROM subscriber WHERE status = 'active'"
        )
        return int(conn.execute("SELECT count(*) FROM ledger").fetchone()[0])


def time_each(config: Path, commands: dict[str, list[str]], runs: int) -> None:
    for name, argv in commands.items():
        times, line = [], ""
        for _ in range(runs):
            wall, line = anniversary(config, argv)
            times.append(wall)
        print(
            f"  {name:<32} min {min(times):5.2f} s, median {statistics.median(times):5.2f} s"
            f" (over {runs}); last line: {line[:70]}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"p{n}"
            folder.mkdir()
            config = project(folder, None)
            write_csv(folder / "subscribers.csv", n)
            anniversary(config, ["subscribers", "import", str(folder / "subscribers.csv")])
            entries = fill_ledger(folder / "subscribers.db")
            print(f"{n:,} subscribers, {entries:,} ledger entries")
            time_each(config, BEFORE, args.runs)
            wall, line = anniversary(config, LATE)
            print(f"  run-due past the event, skipping the day-of stage for all: {wall:.2f} s; {line[:60]}")
            time_each(config, AFTER, args.runs)
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
