"""Batch size and concurrency: the transport's own defaults where config.toml sets
neither, config.toml's value wherever it sets one, and `status` saying which is which."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from conftest import Project
from sg_sink import Sink
from sg_world import NOW, make_config, signer

from scheduler.config.model import TRANSPORT_DEFAULTS
from scheduler.delivery.runs import Delivery
from scheduler.store import Store, SubscriberRow
from scheduler.transports.sendgrid import SendgridTransport


def test_sendgrid_without_batch_settings_sends_1000_a_request_two_at_once(
    tmp_path: Path, sink: Sink, sendgrid_env: None
) -> None:
    cfg = make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    assert cfg.transport.batching.describe() == ("Batching: 1000 per request, concurrency 2 (SendGrid's defaults)")
    store = Store(cfg.database_url)
    store.upsert_subscribers([SubscriberRow(f"p{i}@example.com", "", "en", "Asia/Baku") for i in range(2500)], "i", NOW)
    # Concurrency 2: while one request waits for its answer, the next batch is claimed.
    # The sink holds each answer a moment and counts the claimed, unanswered entries.
    unknown_at_answer: list[int] = []
    handle = sink.handle

    def held(h: object) -> None:
        time.sleep(0.3)
        with sqlite3.connect(tmp_path / "subscribers.db") as db:
            (n,) = db.execute("select count(*) from ledger where state = 'unknown'").fetchone()
        unknown_at_answer.append(n)
        handle(h)  # type: ignore[arg-type]

    sink.handle = held  # type: ignore[method-assign]
    result = Delivery(cfg, store, signer(), transport=SendgridTransport(cfg.transport.sendgrid)).send_stage(
        "black-january", "reminder", 2027, NOW
    )
    assert result.counts == {"sent": 2500}
    assert sorted(len(s.body["personalizations"]) for s in sink.seen) == [500, 1000, 1000]
    assert max(unknown_at_answer) == 2000, unknown_at_answer


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ("batch_size = 250\nconcurrency = 3", "Batching: 250 per request, concurrency 3 (from config.toml)"),
        (
            "batch_size = 250",
            "Batching: 250 per request, concurrency 2 (batch size from config.toml, concurrency SendGrid's default)",
        ),
        (
            "concurrency = 1",
            "Batching: 1000 per request, concurrency 1 (concurrency from config.toml, batch size SendGrid's default)",
        ),
    ],
)
def test_a_value_set_in_config_always_wins(tmp_path: Path, settings: str, line: str) -> None:
    cfg = make_config(tmp_path, f'{settings}\n[transport.sendgrid]\nhost = "http://127.0.0.1:9"')
    assert cfg.transport.batching.describe() == line


def test_config_batch_size_wins_in_a_real_send(tmp_path: Path, sink: Sink, sendgrid_env: None) -> None:
    cfg = make_config(tmp_path, f'batch_size = 300\n[transport.sendgrid]\nhost = "{sink.url}"')
    store = Store(cfg.database_url)
    store.upsert_subscribers([SubscriberRow(f"p{i}@example.com", "", "en", "Asia/Baku") for i in range(700)], "i", NOW)
    Delivery(cfg, store, signer(), transport=SendgridTransport(cfg.transport.sendgrid)).send_stage(
        "black-january", "reminder", 2027, NOW
    )
    assert sorted(len(s.body["personalizations"]) for s in sink.seen) == [100, 300, 300]


@pytest.mark.parametrize("kind", ["outbox", "smtp"])
def test_outbox_and_smtp_have_their_own_defaults(tmp_path: Path, kind: str) -> None:
    smtp = '[transport.smtp]\nhost = "127.0.0.1"\nsecurity = "none"' if kind == "smtp" else ""
    cfg = make_config(tmp_path, smtp, kind=kind)
    batch, concurrency = TRANSPORT_DEFAULTS[kind]
    name = {"outbox": "the outbox", "smtp": "SMTP"}[kind]
    assert cfg.transport.batching.describe() == (
        f"Batching: {batch} per request, concurrency {concurrency} ({name}'s defaults)"
    )


def test_status_says_which_values_are_in_force(run, project: Project) -> None:
    def batching() -> list[str]:
        return [line for line in run("status").stdout.splitlines() if line.startswith("Batching")]

    assert batching() == [
        f"Batching: {TRANSPORT_DEFAULTS['outbox'][0]} per request, concurrency {TRANSPORT_DEFAULTS['outbox'][1]}"
        " (the outbox's defaults)"
    ]
    project.edit_config('outbox_dir = "outbox"', 'outbox_dir = "outbox"\nbatch_size = 50\nconcurrency = 1')
    assert batching() == ["Batching: 50 per request, concurrency 1 (from config.toml)"]


def test_verbose_send_logs_the_values_in_force(run, project: Project) -> None:
    run("subscribers", "add", "ana@example.com", "--timezone", "Asia/Baku")
    result = run("-v", "send", "black-january", "reminder", "--year", "2027", "--yes")
    assert result.exit_code == 0
    assert "Batching: " in result.stderr and "(the outbox's defaults)" in result.stderr
