"""Benchmark: one stage to N generated subscribers through the SendGrid transport, into a
loopback sink. Not a test: run it by hand and record the numbers in
BENCHMARKS.md.

    /tmp/venv/bin/python bench/bench_sendgrid.py 100000 1000000 --concurrency 2

The sink runs in its own process (as SendGrid would be elsewhere), reads each
``/v3/mail/send`` body, counts its personalizations and answers 202 with an
``X-Message-Id``. The first body is validated against SendGrid's OpenAPI spec when the
spec is there. Phases are timed by wrapping the store, renderer and transport methods,
in wall time and in CPU time of the thread that ran them (the difference is mostly
waiting for the GIL):

* select: reading subscribers by id window (the ``ledger-read`` thread);
* claim: each batch's claim, with the previous answers written in the same
  transaction (the ``ledger-write`` thread);
* render: rendering each content group once, and building every request body;
* request: the HTTP round trip through the official client;
* ledger: answers written outside a claim (at the end of the run), and releases.

Peak RSS is this process's high-water mark; sender CPU is its user and system time
during the send.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LANGS = ["en", "az", "ru", "tr"]
ZONES = ["Asia/Baku", "Europe/Berlin", "America/Los_Angeles", "Europe/London", "Asia/Tokyo",
         "America/New_York", "Europe/Istanbul", "Australia/Sydney"]  # fmt: skip
NOW = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)


# -- the sink ---------------------------------------------------------------------------


def _sink(port_queue: Any, validate: bool) -> None:
    counts = {"requests": 0, "personalizations": 0, "bytes": 0}
    lock = threading.Lock()
    validator = None
    if validate:
        sys.path.insert(0, str(REPO / "tests"))
        try:
            from sg_sink import _validator

            validator = _validator()
        except Exception as exc:  # the spec may be absent: say so, go on
            print(f"sink: no spec validation ({exc})", file=sys.stderr)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # the counters, for the benchmark to check
            # SendGrid's suppression lists, read before each run (README: Bounces,
            # complaints and suppression): empty here, as for a new account.
            data = b"[]" if self.path.startswith("/v3/suppression/") else json.dumps(counts).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            nonlocal validator
            body = self.rfile.read(int(self.headers["Content-Length"]))
            # A key "to" appears once per personalization: in a JSON string value the
            # quotes would be escaped, so the bytes '"to":' can only be that key.
            n = body.count(b'"to":')
            if validator is not None:
                errors = list(validator.iter_errors(json.loads(body)))
                validator = None
                if errors:
                    print(f"sink: first body invalid: {errors[0].message}", file=sys.stderr)
            with lock:
                counts["requests"] += 1
                counts["personalizations"] += n
                counts["bytes"] += len(body)
            self.send_response(202)
            self.send_header("X-Message-Id", uuid.uuid4().hex[:22])
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


# -- the data ---------------------------------------------------------------------------


def generate(db: Path, n: int) -> float:
    from scheduler.store import Store

    Store(f"sqlite:///{db}").close()  # the schema, as the application makes it
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    stamp = "2026-01-01 00:00:00.000000"
    rows = (
        (f"s{i}@example.com", f"s{i}@example.com", "" if i % 11 == 5 else f"Name {i} Əliyeva", LANGS[i % 4],
         ZONES[(i // 4) % len(ZONES)], "active", stamp, "import", stamp, stamp)
        for i in range(n)
    )  # fmt: skip
    with conn:
        conn.executemany(
            "INSERT INTO subscriber (email, email_key, name, language, timezone, status, consent_at,"
            " consent_source, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    conn.close()
    return time.perf_counter() - started


# -- timing -----------------------------------------------------------------------------


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        #: CPU time of the thread that ran each phase
        self.cpu: dict[str, float] = {}
        self.lock = threading.Lock()

    def wrap(self, obj: Any, attr: str, phase: str) -> None:
        inner: Callable[..., Any] = getattr(obj, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t, c = time.perf_counter(), time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t
                    self.cpu[phase] = self.cpu.get(phase, 0.0) + time.thread_time() - c

        setattr(obj, attr, timed)


def run_once(n: int, workdir: Path, port: int, concurrency: int, claim_size: int) -> dict[str, Any]:
    from scheduler.config import load_config
    from scheduler.content.links import Signer
    from scheduler.delivery.runs import Delivery
    from scheduler.store import Store
    from scheduler.transports.sendgrid import SendgridTransport

    case = workdir / f"n{n}"
    case.mkdir()
    shutil.copytree(REPO / "templates", case / "templates")
    (case / "config.toml").write_text(
        (REPO / "bench" / "bench_config.toml")
        .read_text(encoding="utf-8")
        .format(port=port, concurrency=concurrency, claim_size=claim_size),
        encoding="utf-8",
    )
    gen = generate(case / "subscribers.db", n)
    os.environ["SENDGRID_API_KEY"] = "SG.bench-key"
    config = load_config(case / "config.toml")
    store = Store(config.database_url)
    transport = SendgridTransport(config.transport.sendgrid)
    sender = Delivery(config, store, Signer(b"bench-signing-key-0123456789abcdef"), transport=transport)
    phases = Phases()
    phases.wrap(store, "candidates_range", "select")
    phases.wrap(store, "claim_ids", "claim")
    phases.wrap(sender.composer, "group", "render")
    phases.wrap(transport, "prepare", "render")
    phases.wrap(store, "record_all", "ledger")
    phases.wrap(store, "release", "ledger")
    phases.wrap(transport, "post_to_esp", "request")
    started = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    gc.freeze()  # as `anniversary send` does at its edge (scheduler/cli/common.py, sending())
    result = sender.send_stage("black-january", "reminder", 2027, NOW)
    gc.unfreeze()
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"user": cpu1.ru_utime - cpu0.ru_utime, "sys": cpu1.ru_stime - cpu0.ru_stime}
    store.close()
    return {
        "n": n,
        "generate_s": gen,
        "send_s": elapsed,
        "per_s": n / elapsed,
        "counts": dict(result.counts),
        "phases": phases.seconds,
        "phase_cpu": phases.cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--claim-size", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="anniversary-bench-"))
    ctx = multiprocessing.get_context("spawn")
    for n in args.sizes:
        # A fresh process per size, so each peak RSS is that size's own.
        queue = ctx.Queue()
        sink = ctx.Process(target=_sink, args=(queue, True), daemon=True)
        sink.start()
        port = queue.get(timeout=30)
        out = ctx.Queue()
        worker = ctx.Process(target=_child, args=(out, n, workdir, port, args.concurrency, args.claim_size))
        worker.start()
        worker.join()
        if worker.exitcode != 0:
            sink.terminate()
            raise SystemExit(f"the benchmark run for {n} failed (exit {worker.exitcode})")
        report = out.get()
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as resp:
            report["sink"] = json.loads(resp.read())
        sink.terminate()
        print_report(report)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


def _child(out: Any, n: int, workdir: Path, port: int, concurrency: int, claim_size: int) -> None:
    out.put(run_once(n, workdir, port, concurrency, claim_size))


def print_report(r: dict[str, Any]) -> None:
    phases = ", ".join(f"{k} {v:.2f} s (CPU {r['phase_cpu'][k]:.2f})" for k, v in sorted(r["phases"].items()))
    sink = r["sink"]
    print(
        f"{r['n']:>9,} recipients: {r['send_s']:.2f} s end to end, {r['per_s']:,.0f} recipients/s; "
        f"peak RSS {r['rss_mb']:.0f} MB\n"
        f"           phases (summed over threads): {phases}\n"
        f"           ledger: {r['counts']}; sink: {sink['requests']} requests, "
        f"{sink['personalizations']:,} personalizations, {sink['bytes'] / 1e6:.0f} MB; "
        f"sender CPU: user {r['cpu']['user']:.1f} s, system {r['cpu']['sys']:.1f} s; "
        f"(generating the database: {r['generate_s']:.2f} s)",
        flush=True,
    )
    assert sink["personalizations"] == r["n"] == r["counts"].get("sent"), "every recipient sent exactly once"


if __name__ == "__main__":
    main()
