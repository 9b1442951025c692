"""Benchmark: ``anniversary send`` of one stage as a user runs it. A CSV imported with
the real command into a copy of the shipped config, the transport switched to SendGrid
against bench_sendgrid's loopback sink with no batch settings (SendGrid's defaults),
then the send timed as a whole process with ``/usr/bin/time`` (wall, CPU, peak RSS).
Not a test: run it by hand and record the numbers in BENCHMARKS.md.

    .venv/bin/python bench/bench_user_send.py 1000000
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import write_csv
from bench_postgres import ENV, project, sink_count
from bench_sendgrid import _sink


def main(n: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    sink = ctx.Process(target=_sink, args=(queue, False), daemon=True)
    sink.start()
    port = queue.get(timeout=30)
    folder = Path(tempfile.mkdtemp(prefix="bench-user-send-"))
    try:
        config = project(folder, "sqlite:///subscribers.db", port)
        csv_file = folder / "people.csv"
        write_csv(csv_file, n)
        exe = str(Path(sys.executable).with_name("anniversary"))
        subprocess.run([exe, "subscribers", "import", str(csv_file), "--config", str(config)], env=ENV, check=False)
        started = time.perf_counter()
        argv = [exe, "send", "black-january", "reminder", "--year", "2027", "--yes", "--config", str(config)]
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M KB peak, %U s user, %S s system", *argv], env=ENV, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        print(f"{n:,} rows: send {wall:.2f} s, exit {done.returncode}; {done.stderr.strip().splitlines()[-1]}")
        print(f"  {done.stdout.strip().splitlines()[-1]}; sink received {sink_count(port):,} personalizations")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        sink.terminate()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
