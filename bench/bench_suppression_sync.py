"""How long SendGrid's suppression lists take to come in before a run, and how long the
Event Webhook takes over a large batch (BENCHMARKS.md, Bounces, complaints and
suppression).

    python bench/bench_suppression_sync.py [SUBSCRIBERS] [LIST_ENTRIES]

A real SQLite file with SUBSCRIBERS subscribers; SendGrid's bounce list, served by the
tests' loopback sink and read by the real ``sendgrid`` client, holds LIST_ENTRIES
addresses, a tenth of them subscribers'. Prints the time to read the list, to apply it
the first time (every address new) and again (nothing to write), and to apply a webhook
batch of 5,000 bounces and 10,000 deliveries, then the same batch repeated.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from sg_sink import Sink  # noqa: E402
from sg_world import API_KEY, NOW, SIGNING_KEY, make_config, make_store  # noqa: E402

from scheduler.content.tokens import Keyring  # noqa: E402
from scheduler.delivery.suppressions import apply_lists  # noqa: E402
from scheduler.lifecycle.webhook import apply, parse_events  # noqa: E402
from scheduler.transports.sendgrid import SendgridTransport  # noqa: E402
from scheduler.transports.sendgrid_suppressions import read_suppressions  # noqa: E402


def main(n_subscribers: int, n_entries: int) -> None:
    os.environ["SENDGRID_API_KEY"] = API_KEY
    os.environ["ANNIVERSARY_SIGNING_KEY"] = SIGNING_KEY
    tmp = Path(tempfile.mkdtemp(prefix="bench-suppressions-"))
    with Sink(validate=False) as sink:
        sink.api_key = API_KEY
        config = make_config(tmp, f'[transport.sendgrid]\nhost = "{sink.url}"\n')
        store = make_store(config, n_subscribers)
        theirs = [
            {"email": f"person{i * 10}@example.com", "created": 1_767_000_000 + i} for i in range(n_entries // 10)
        ]
        others = [
            {"email": f"gone{i}@example.net", "created": 1_767_000_000 + i} for i in range(n_entries - len(theirs))
        ]
        sink.suppressions["bounces"] = theirs + others
        keyring = Keyring.from_config(config)

        started = time.perf_counter()
        lists = read_suppressions(SendgridTransport(config.transport.sendgrid))
        print(f"read {n_entries:,} entries in {len(sink.gets)} requests: {time.perf_counter() - started:.2f} s")
        for label, at in (("first apply", NOW), ("second apply", NOW + timedelta(hours=1))):
            started = time.perf_counter()
            report = apply_lists(store, keyring, lists, at)
            print(
                f"{label}: {time.perf_counter() - started:.2f} s "
                f"({report.subscribers:,} subscribers, {report.hashes:,} hashes written)"
            )

    args = {"campaign": "black-january", "year": "2027", "stage": "reminder"}
    events = [
        {"event": "bounce", "email": f"person{i}@example.com", "sg_event_id": f"b{i}", "timestamp": 1_768_284_000}
        | args
        | {"subscriber": str(i + 1), "status": "5.1.1"}
        for i in range(5000)
    ] + [
        {"event": "delivered", "email": f"person{i}@example.com", "sg_event_id": f"d{i}", "timestamp": 1_768_284_000}
        | args
        | {"subscriber": str(i + 1)}
        for i in range(5000, 15000)
    ]
    body = json.dumps(events).encode()
    for label in ("webhook batch", "same batch repeated"):
        started = time.perf_counter()
        done = apply(store, keyring, parse_events(body), NOW)
        print(
            f"{label} ({len(body) / 1e6:.1f} MB, {len(events):,} events): {time.perf_counter() - started:.2f} s; {done.describe()}"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
