"""A whole send: concurrency, the rate limit, progress, stopping, and a run under many
faults where every subscriber still ends in exactly one state."""

from __future__ import annotations

import email
import email.policy
import io
import logging
import random
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console
from sg_sink import Fault, Sink
from sg_world import NOW, ledger_states, make_config, make_store, signer, subscriber_rows

from scheduler.content.templates import SubscriberView
from scheduler.core.outcomes import State
from scheduler.delivery.pacing import RateLimiter
from scheduler.delivery.progress import Progress, summary_table
from scheduler.delivery.runs import Delivery, RunCounts
from scheduler.transports.outbox import OutboxTransport
from scheduler.transports.sendgrid import SendgridTransport

CAMPAIGN, STAGE, YEAR = "black-january", "reminder", 2027

pytestmark = pytest.mark.usefixtures("sendgrid_env")


def test_rate_limiter_paces_messages_across_calls() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)

    limiter = RateLimiter(50, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire(100)  # 100 messages at 50/s: two seconds each
    assert waits == [2.0, 4.0, 6.0]
    now[0] += 20
    assert limiter.acquire(10) == 0.0 and RateLimiter(0).acquire(10**6) == 0.0


def test_concurrent_chaotic_run_ends_with_every_subscriber_in_one_state(tmp_path: Path, sink: Sink) -> None:
    cfg = make_config(
        tmp_path,
        "batch_size = 7\nclaim_size = 50\nconcurrency = 4\nrate_per_second = 0\n"
        f'[transport.sendgrid]\nhost = "{sink.url}"\ntimeout_seconds = 0.3\nmax_retries = 1',
    )
    store = make_store(cfg, 400)
    rng = random.Random(7)
    choices = [Fault(), Fault(), Fault(), Fault(500), Fault(503), Fault(429), Fault(drop=True),
               Fault(400, body={"errors": [{"message": "bad"}]}), Fault(delay=0.5)]  # fmt: skip
    sink.faults = [rng.choice(choices) for _ in range(200)]
    transport = SendgridTransport(cfg.transport.sendgrid, sleep=lambda s: None)
    seen_progress: list[int] = []
    sender = Delivery(
        cfg, store, signer(), transport=transport, on_progress=lambda c, n: seen_progress.append(c.total())
    )
    result = sender.send_stage(CAMPAIGN, STAGE, YEAR, NOW)
    states = ledger_states(store)
    assert len(states) == 400 and result.total() == 400
    assert Counter(states.values()) == Counter({k: v for k, v in result.counts.items()})
    assert {"sent", "failed", "unknown"} <= set(states.values())
    accepted = Counter(sink.accepted_addresses())
    assert max(accepted.values()) == 1, "no address is sent the stage twice"
    assert not sink.errors
    # What SendGrid accepted is exactly what the ledger calls sent or unknown.
    sent = {a for a, s in states.items() if s == "sent"}
    assert sent <= set(accepted) and set(accepted) <= sent | {a for a, s in states.items() if s == "unknown"}
    assert seen_progress[0] == 0 and seen_progress[-1] == 400 and seen_progress == sorted(seen_progress)
    assert max(len(s.body["personalizations"]) for s in sink.seen) <= 7


def test_rate_limit_is_applied_per_message(tmp_path: Path, sink: Sink) -> None:
    cfg = make_config(tmp_path, f'batch_size = 10\nrate_per_second = 5\n[transport.sendgrid]\nhost = "{sink.url}"')
    store = make_store(cfg, 30)
    waits: list[float] = []
    clock = [0.0]
    limiter = RateLimiter(cfg.transport.rate_per_second, clock=lambda: clock[0], sleep=waits.append)
    sender = Delivery(cfg, store, signer(), transport=SendgridTransport(cfg.transport.sendgrid), limiter=limiter)
    sender.send_stage(CAMPAIGN, STAGE, YEAR, NOW)
    sizes = [len(s.body["personalizations"]) for s in sink.seen]
    assert waits and waits[-1] == pytest.approx((sum(sizes) - sizes[-1]) / 5)


def test_stop_after_the_batch_in_flight_releases_the_rest(tmp_path: Path, sink: Sink) -> None:
    cfg = make_config(tmp_path, f'batch_size = 5\nclaim_size = 20\n[transport.sendgrid]\nhost = "{sink.url}"')
    store = make_store(cfg, 60)
    stop = [False]

    def progress(counts: RunCounts, n: int) -> None:
        stop[0] = counts.total() >= 5

    sender = Delivery(
        cfg,
        store,
        signer(),
        transport=SendgridTransport(cfg.transport.sendgrid),
        should_stop=lambda: stop[0],
        on_progress=progress,
    )
    result = sender.send_stage(CAMPAIGN, STAGE, YEAR, NOW)
    assert result.stopped and result.counts == {"sent": result.total()}
    states = ledger_states(store)
    assert set(states.values()) == {"sent"}, "claims never handed over are released, not left unknown"
    assert sorted(states) == sorted(sink.accepted_addresses())
    stop[0] = False
    again = Delivery(cfg, store, signer(), transport=SendgridTransport(cfg.transport.sendgrid)).send_stage(
        CAMPAIGN, STAGE, YEAR, NOW
    )
    assert again.total() == 60 - result.total() and len(ledger_states(store)) == 60


def test_outbox_messages_from_a_group_equal_rendering_each(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, "batch_size = 9", kind="outbox")
    store = make_store(cfg, 30)
    sender = Delivery(cfg, store, signer(), transport=OutboxTransport(cfg.outbox_dir))
    assert sender.send_stage(CAMPAIGN, STAGE, YEAR, NOW).counts == {"sent": 30}
    campaign = cfg.get_campaign(CAMPAIGN)
    stage = campaign.get_stage(STAGE)
    rows = {r.email: (i + 1, r) for i, r in enumerate(subscriber_rows(30))}
    for entry in store.entries(CAMPAIGN, YEAR, STAGE):
        sid, row = rows[entry["email"]]
        (path,) = (tmp_path / "outbox").rglob(f"{entry['id']:09d}.eml")
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert msg["To"].addresses[0].addr_spec == row.email and msg["Message-ID"] == entry["message_id"]
        view = SubscriberView(row.name, row.language, row.timezone)
        alone = sender.composer.render(campaign, stage, YEAR, view, sid)
        url = sender.composer.links.unsubscribe(sid)
        assert msg.get_body(("plain",)).get_content() == alone.text
        assert msg.get_body(("html",)).get_content() == alone.html
        assert str(msg["Subject"]) == alone.subject and url in str(msg["List-Unsubscribe"])


def test_progress_log_lines_when_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.delivery.progress")
    t = [0.0]
    progress = Progress(stream=io.StringIO(), tty=False, interval=5, clock=lambda: t[0])
    counts = RunCounts(CAMPAIGN, YEAR, STAGE, expected=100)
    progress(counts, 0)
    for step in range(10):
        t[0] += 1
        counts.counts["sent" if step % 3 else "failed"] += 10
        progress(counts, 10)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # the start (t=0), t=5, and t=10 (the end)
    assert lines[-1] == f"{CAMPAIGN} {YEAR} {STAGE}: sent 60, failed 40, unknown 0, remaining 0, 10/s"


def test_progress_bar_on_a_terminal_and_the_summary_table() -> None:
    out = io.StringIO()
    counts = RunCounts(CAMPAIGN, YEAR, STAGE, expected=50)
    with Progress(stream=out, tty=True) as progress:
        counts.counts.update(sent=30, failed=2)
        progress(counts, 32)
    assert "sent 30 failed 2" in out.getvalue() and "remaining 18" in out.getvalue()
    counts.counts["unknown"] = 1
    text = io.StringIO()
    Console(file=text, width=120).print(summary_table([counts]))
    row = next(line for line in text.getvalue().splitlines() if STAGE in line)
    assert [c.strip() for c in row.strip("│ ").split("│")][:5] == [f"{CAMPAIGN} {YEAR} {STAGE}", "30", "2", "0", "1"]
    assert [s.value for s in State] == ["sent", "failed", "skipped", "unknown"]
