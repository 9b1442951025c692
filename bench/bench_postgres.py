"""Benchmark: a stage sent to N recipients on PostgreSQL by one ``anniversary send`` and by
two at once (as two machines' daemons would share the database), through the SendGrid
transport into a loopback sink. Not a test: run it by hand and record the numbers in
BENCHMARKS.md.

    .venv/bin/python bench/bench_postgres.py 100000 1000000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/test

For each size: a fresh schema in that database; the shipped ``config.toml`` copied,
its ``[database] url`` pointed at the schema and its transport switched to SendGrid
(no batch settings: SendGrid's defaults apply); a generated CSV imported with the real
command (timed: import on PostgreSQL); then the send, by one process, and again on a
fresh ledger by two processes started together. Reported: wall time, each process's
share of the entries (the split), and a check that every recipient was sent exactly
once (sink personalizations = ledger ``sent`` = N, no subscriber twice). ``--sqlite``
runs the one-process send on the shipped SQLite file too, for the 2x comparison. The
machine is shared and noisy: quote the minimum over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import write_csv
from bench_sendgrid import _sink

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "ANNIVERSARY_SIGNING_KEY": "bench-signing-key-0123456789abcdefghijKLMNOP",
    "SENDGRID_API_KEY": "SG.bench-key",
}


def project(folder: Path, url: str, port: int) -> Path:
    """The shipped config and templates, copied; the database and transport switched."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "templates").exists():
        shutil.copytree(REPO / "templates", folder / "templates")
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///subscribers.db"', f'url = "{url}"', 1)
    text = text.replace('kind = "outbox"', 'kind = "sendgrid"', 1)
    text = text.replace("[organizers]", f'[transport.sendgrid]\nhost = "http://127.0.0.1:{port}"\n\n[organizers]', 1)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return folder / "config.toml"


def schema_url(base: str, schema: str) -> str:
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    return sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def anniversary(config: Path, *args: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("anniversary")
    return subprocess.Popen(
        [str(exe), *args, "--config", str(config)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def send(configs: list[Path]) -> float:
    started = time.perf_counter()
    procs = [anniversary(c, "send", "black-january", "reminder", "--year", "2027", "--yes") for c in configs]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"send failed (exit {p.returncode}): {err[-2000:]}")
    return time.perf_counter() - started


def split(url: str, n: int) -> dict[str, int]:
    """Entries per sending process (a run's claims share its run id before the dot)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT split_part(run_id, '.', 1), state, count(*) FROM ledger GROUP BY 1, 2")
        out: dict[str, int] = {}
        for run, state, count in rows:
            assert state == "sent", (run, state, count)
            out[run] = out.get(run, 0) + count
        twice = conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT subscriber_id FROM ledger GROUP BY subscriber_id HAVING count(*) > 1) d"
        ).scalar()
        assert twice == 0 and sum(out.values()) == n, (twice, out)
        conn.exec_driver_sql("DELETE FROM ledger")
        conn.commit()
    engine.dispose()
    return out


def sink_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as resp:
        return int(json.loads(resp.read())["personalizations"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--database", default=os.environ.get("ANNIVERSARY_TEST_POSTGRES_URL"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true", help="also send on SQLite, for the comparison")
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("give --database postgresql+psycopg://... or set ANNIVERSARY_TEST_POSTGRES_URL")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    sink = ctx.Process(target=_sink, args=(queue, False), daemon=True)
    sink.start()
    port = queue.get(timeout=30)
    tmp = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    try:
        for n in args.sizes:
            csv_file = tmp / f"subscribers-{n}.csv"
            write_csv(csv_file, n)
            url = schema_url(args.database, "bench_pg")
            configs = [project(tmp / f"pg-{n}-{k}", url, port) for k in "ab"]
            started = time.perf_counter()
            p = anniversary(configs[0], "subscribers", "import", str(csv_file))
            out, err = p.communicate()
            took = time.perf_counter() - started
            line = out.strip().splitlines()[-1] if out.strip() else err[-500:]
            added = int(line.split()[0])
            print(f"{n:>9,}: import on PostgreSQL {took:.2f} s ({n / took:,.0f} rows/s): {line}", flush=True)
            if args.sqlite:
                lite = project(tmp / f"lite-{n}", "sqlite:///subscribers.db", port)
                anniversary(lite, "subscribers", "import", str(csv_file)).communicate()
                best = min(send([lite]) for _ in range(args.runs))
                print(f"{n:>9,}: SQLite, one process: {best:.2f} s ({added / best:,.0f}/s)", flush=True)
                shutil.rmtree(lite.parent)
            for label, chosen in (("one process", configs[:1]), ("two processes", configs)):
                times = []
                for _ in range(args.runs):
                    before = sink_count(port)
                    times.append(send(chosen))
                    assert sink_count(port) - before == added, "the sink got every recipient exactly once"
                    shares = split(url, added)
                print(
                    f"{n:>9,}: PostgreSQL, {label}: {min(times):.2f} s ({added / min(times):,.0f}/s);"
                    f" split {sorted(shares.values(), reverse=True)}",
                    flush=True,
                )
    finally:
        sink.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
