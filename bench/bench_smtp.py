"""Benchmark: ``anniversary send black-january reminder --yes`` through the SMTP
transport to a loopback aiosmtpd sink, as a user runs it. Not a test: run it by hand
and record the numbers in BENCHMARKS.md.

    .venv/bin/python bench/bench_smtp.py 10000 100000 --runs 3 [--concurrency 2]

The sink is a real aiosmtpd server in a process of its own (as a relay would be
elsewhere); it takes every message with 250 and counts messages and bytes, without
parsing them. The project is bench_outbox's (the shipped ``config.toml``, templates
and examples, a generated CSV imported with the real command) with ``[transport]``
switched to ``kind = "smtp"`` at the sink, ``security = "none"``; ``--concurrency``
adds ``concurrency = N`` (the shipped default for SMTP is 1). Each run times the real
``send`` command in a child process: wall time, its user and system CPU and peak RSS,
and the sink's own CPU over the same run, so what bounds the rate shows: the sender's
CPU, the sink's, or neither (round trips: MAIL, RCPT, DATA and the message each wait
for an answer, ``smtplib`` does not pipeline, RFC 2920). The machine is shared and
noisy: the minimum over ``--runs`` is the figure to quote.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_outbox import anniversary, fresh, prepare


def _sink(conn: Any) -> None:
    """The aiosmtpd server; answers the parent's "count" with (messages, bytes, CPU s)."""
    from aiosmtpd.controller import Controller

    counts = [0, 0]

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts[0] += 1
            counts[1] += len(envelope.content)
            return "250 2.0.0 queued"

    with socket.socket() as probe:  # aiosmtpd needs a port it can connect to itself
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    conn.send(port)
    while conn.recv() == "count":
        usage = resource.getrusage(resource.RUSAGE_SELF)
        conn.send((counts[0], counts[1], usage.ru_utime + usage.ru_stime))
    controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--names", choices=["plain", "mixed"], default="plain")
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    sink = multiprocessing.Process(target=_sink, args=(theirs,), daemon=True)
    sink.start()
    if not ours.poll(30):
        raise SystemExit("the SMTP sink did not start")
    port = ours.recv()
    transport = 'kind = "smtp"\noutbox_dir = "outbox"\n'
    if args.concurrency:
        transport += f"concurrency = {args.concurrency}\n"
    transport += f'\n[transport.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    try:
        with tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp:
            for n in args.sizes:
                folder = Path(tmp) / f"p{n}"
                config = prepare(folder, n, args.names, transport)
                runs = []
                for run in range(args.runs):
                    fresh(folder)
                    ours.send("count")
                    before = ours.recv()
                    wall, user, system, rss, line = anniversary(config, "send", "black-january", "reminder", "--yes")
                    ours.send("count")
                    after = ours.recv()
                    got, size, sink_cpu = (a - b for a, b in zip(after, before, strict=True))
                    print(f"{n:>8} subscribers run {run + 1}: {wall:6.2f} s wall, sender {user:5.2f} s user +"
                          f" {system:5.2f} s system CPU, sink {sink_cpu:5.2f} s CPU, peak RSS {rss:4.0f} MB;"
                          f" sink took {got} messages, {size / got / 1024:.1f} kB each; {line}", flush=True)  # fmt: skip
                    runs.append((wall, user + system, sink_cpu, rss))
                    time.sleep(1)
                wall, cpu, sink_cpu, rss = (min(r[i] for r in runs) for i in range(4))
                print(f"{n:>8} min: {wall:.2f} s wall = {got / wall:,.0f} messages/s; sender {cpu:.2f} s CPU"
                      f" ({cpu / wall:.0%} of a core), sink {sink_cpu:.2f} s CPU ({sink_cpu / wall:.0%}),"
                      f" peak RSS {rss:.0f} MB", flush=True)  # fmt: skip
                shutil.rmtree(folder)
    finally:
        ours.send("stop")
        sink.join(10)


if __name__ == "__main__":
    main()
