"""Benchmark: ``anniversary subscribers import`` of a generated CSV, as a user runs it.
Not a test: run it by hand and record the numbers in BENCHMARKS.md.

    .venv/bin/python bench/bench_import.py 100000 1000000 --runs 3

For each size it writes a CSV (``email,name,language,timezone``; 2,000 domains, the
four campaign languages, 40 zones, a bad row every 10,000 lines), copies the shipped
``config.toml`` and its templates into a fresh folder (``--database`` points it at
PostgreSQL instead of the shipped SQLite file), and runs the real command in a child
process: once into an empty database and once more (the re-import, which changes
nothing). Each run reports wall time, the child's peak RSS (``ru_maxrss`` of the
waited-for child) and the command's summary line. The machine is shared and noisy: the
minimum over ``--runs`` is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LANGS = ["en", "az", "ru", "tr"]
ZONES = [
    "Asia/Baku", "Europe/Berlin", "America/Los_Angeles", "Europe/London", "Asia/Tokyo", "America/New_York",
    "Europe/Istanbul", "Australia/Sydney", "Europe/Moscow", "Asia/Tbilisi", "America/Chicago", "America/Denver",
    "America/Toronto", "America/Sao_Paulo", "Europe/Paris", "Europe/Madrid", "Europe/Rome", "Europe/Kyiv",
    "Asia/Dubai", "Asia/Tehran", "Asia/Almaty", "Asia/Tashkent", "Asia/Kolkata", "Asia/Shanghai", "Asia/Seoul",
    "Asia/Singapore", "Australia/Perth", "Pacific/Auckland", "Africa/Cairo", "Africa/Lagos", "Africa/Nairobi",
    "Atlantic/Reykjavik", "Europe/Warsaw", "Europe/Prague", "Europe/Vienna", "Europe/Stockholm", "Europe/Oslo",
    "Europe/Helsinki", "America/Mexico_City", "UTC",
]  # fmt: skip


def write_csv(path: Path, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    domains = [f"mail{i}.example.{('com', 'org', 'az', 'de')[i % 4]}" for i in range(2000)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("email,name,language,timezone\n")
        for i in range(n):
            if i % 10_000 == 9_999:
                fh.write(f"not-an-address-{i},Bad,en,UTC\n")
                continue
            name = f"Person {i}" if i % 7 else ""
            fh.write(f"p{i}.x@{rnd.choice(domains)},{name},{LANGS[i % 4]},{rnd.choice(ZONES)}\n")


def project(folder: Path, database: str | None) -> Path:
    """The shipped config and templates, copied; the database switched when asked."""
    shutil.copytree(REPO / "templates", folder / "templates")
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    if database:
        text = text.replace('url = "sqlite:///subscribers.db"', f'url = "{database}"', 1)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return folder / "config.toml"


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def run_import(config: Path, csv_file: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS of the child in MB, its summary line)."""
    exe = Path(sys.executable).with_name("anniversary")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "subscribers", "import", str(csv_file), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "ANNIVERSARY_SIGNING_KEY": "bench-signing-key-0123456789abcdefghijKLMNOP"},
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    # Reaped here, not by Popen, for this child's own rusage (its peak RSS).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    line = out.strip().splitlines()[-1] if out.strip() else f"exit {proc.returncode}"
    return wall, usage.ru_maxrss / 1024, line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default=None, help="a postgresql+psycopg:// URL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        root = Path(tmp)
        for n in args.sizes:
            csv_file = root / f"subscribers-{n}.csv"
            write_csv(csv_file, n)
            mb = csv_file.stat().st_size / 1e6
            for phase in ("empty", "re-import"):
                best: tuple[float, float, str] | None = None
                for run in range(args.runs):
                    folder = root / f"p{n}-{phase}-{run}"
                    folder.mkdir()
                    config = project(folder, args.database)
                    if args.database:
                        reset_postgres(args.database)
                    if phase == "re-import":
                        run_import(config, csv_file)
                    wall, rss, line = run_import(config, csv_file)
                    print(
                        f"{n:>9} rows ({mb:.0f} MB) {phase:<9} run {run + 1}: {wall:6.2f} s, peak RSS {rss:5.0f} MB; {line}"
                    )
                    best = min(best or (wall, rss, line), (wall, rss, line))
                    shutil.rmtree(folder)
                assert best is not None
                print(f"{n:>9} rows {phase:<9} min: {best[0]:.2f} s = {n / best[0]:,.0f} rows/s")


if __name__ == "__main__":
    main()
