"""Benchmark: ``anniversary send black-january reminder --yes`` through the outbox
transport, as a user runs it. Not a test: run it by hand and record the numbers in
BENCHMARKS.md.

    .venv/bin/python bench/bench_outbox.py 10000 100000 --runs 3

For each size it writes a CSV (bench_import's: 2,000 domains, the four campaign
languages, 40 zones, one row in seven without a name; ``--names mixed`` gives every
other row an Azerbaijani, Russian or HTML-special name instead of ``Person N``), copies
the shipped ``config.toml``, ``templates/`` and ``examples/`` into a fresh folder,
imports the CSV with the real command and keeps the database as it is then. Each run
starts from that database with an empty outbox and times the real ``send`` command in
a child process: wall time, its user and system CPU and peak RSS (``wait4``'s rusage of
that child), and the ``.eml`` files it left. The machine is shared and noisy: the
minimum over ``--runs`` is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import write_csv

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "ANNIVERSARY_SIGNING_KEY": "bench-signing-key-0123456789abcdefghijKLMNOP"}
MIXED = ["Əliyeva Aynur", "Гусейнова Лейла", "Tom <b>&amp; Jerry", "Müller-Lüdenscheidt"]


def shipped_project(folder: Path, transport: str | None = None) -> Path:
    """The shipped config.toml, templates and examples, copied into ``folder``;
    ``transport`` replaces the ``[transport]`` table's kind line and what follows it."""
    for sub in ("templates", "examples"):
        shutil.copytree(REPO / sub, folder / sub)
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    if transport is not None:
        start = text.index('kind = "outbox"')
        end = text.index("\n", text.index("outbox_dir", start))
        text = text[:start] + transport + text[end:]
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return folder / "config.toml"


def mix_names(csv_file: Path) -> None:
    """Every other named row gets a non-ASCII or HTML-special name."""
    lines = csv_file.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        email, name, rest = line.split(",", 2)
        if name and i % 2:
            name = f'"{MIXED[i % len(MIXED)]} {i}"'
        out.append(f"{email},{name},{rest}")
    csv_file.write_text("\n".join(out) + "\n", encoding="utf-8")


def anniversary(config: Path, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[float, float, float, float, str]:
    """(wall s, user CPU s, system CPU s, peak RSS MB, last line of output) of one command;
    an exit status not in ``ok`` stops the benchmark."""
    exe = Path(sys.executable).with_name("anniversary")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), *args, "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    # Reaped here, not by Popen, for this child's own rusage.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{out[-2000:]}")
    line = out.strip().splitlines()[-1] if out.strip() else ""
    return wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, line


def prepare(folder: Path, n: int, names: str, transport: str | None = None) -> Path:
    """A project with ``n`` subscribers imported; ``subscribers.db.clean`` keeps the
    database as the import left it, for each run to start from."""
    folder.mkdir()
    config = shipped_project(folder, transport)
    csv_file = folder / "subscribers.csv"
    write_csv(csv_file, n)
    if names == "mixed":
        mix_names(csv_file)
    # Exit 1: the bad rows the CSV has on purpose were reported.
    anniversary(config, "subscribers", "import", str(csv_file), ok=(0, 1))
    shutil.copyfile(folder / "subscribers.db", folder / "subscribers.db.clean")
    return config


def fresh(folder: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (folder / f"subscribers.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(folder / "subscribers.db.clean", folder / "subscribers.db")
    shutil.rmtree(folder / "outbox", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--names", choices=["plain", "mixed"], default="plain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"p{n}"
            config = prepare(folder, n, args.names)
            runs = []
            for run in range(args.runs):
                fresh(folder)
                wall, user, system, rss, line = anniversary(config, "send", "black-january", "reminder", "--yes")
                files = sum(1 for _ in (folder / "outbox").rglob("*.eml"))
                print(f"{n:>8} subscribers run {run + 1}: {wall:6.2f} s wall, {user:6.2f} s user + {system:5.2f} s system"
                      f" CPU, peak RSS {rss:4.0f} MB; {files} .eml; {line}", flush=True)  # fmt: skip
                runs.append((wall, user, system, rss))
            wall, user, system, rss = (min(r[i] for r in runs) for i in range(4))
            print(f"{n:>8} min: {wall:.2f} s wall = {files / wall:,.0f} messages/s, {user:.2f} s user + {system:.2f} s"
                  f" system CPU, peak RSS {rss:.0f} MB", flush=True)  # fmt: skip
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
