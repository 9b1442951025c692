"""The SMTP transport against a real aiosmtpd server on loopback, messages parsed back
with the ``email`` package."""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sg_world import NOW, SIGNING_KEY, ledger_states, make_config, make_store, signer, subscriber_rows
from smtp_server import Handler, self_signed, start

from scheduler.config import Config
from scheduler.content.groups import Batch
from scheduler.core.outcomes import Result
from scheduler.delivery.runs import Delivery
from scheduler.errors import MissingSecret, TransportError
from scheduler.store import Store
from scheduler.transports.smtp import SmtpTransport

CAMPAIGN, STAGE, YEAR = "black-january", "reminder", 2027


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNIVERSARY_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-secret-pw")


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def server(handler: Handler) -> Iterator[int]:
    controller = start(handler)
    yield controller.port
    controller.stop()


def world(tmp_path: Path, port: int, n: int, extra: str = "") -> tuple[Config, Store, SmtpTransport, list[float]]:
    cfg = make_config(
        tmp_path,
        f'batch_size = 10\n[transport.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f"timeout_seconds = 5\nmax_retries = 2\n{extra}",
        kind="smtp",
    )
    sleeps: list[float] = []
    return cfg, make_store(cfg, n), SmtpTransport(cfg.transport.smtp, sleep=sleeps.append), sleeps


def run(cfg: Config, store: Store, transport: SmtpTransport) -> Counter[str]:
    with transport:
        return Delivery(cfg, store, signer(), transport=transport).send_stage(CAMPAIGN, STAGE, YEAR, NOW).counts


def test_messages_arrive_whole_over_one_connection(tmp_path: Path, handler: Handler, server: int) -> None:
    cfg, store, transport, _ = world(tmp_path, server, 30)
    assert run(cfg, store, transport) == {"sent": 30}
    assert transport.connects == 1 and handler.sessions == 1, "one connection reused across batches"
    assert sorted(handler.delivered_to()) == sorted(r.email for r in subscriber_rows(30))
    by_to = {m["To"].addresses[0].addr_spec: m for m in handler.received}
    rows = {r.email: r for r in subscriber_rows(30)}
    entries = {e["email"]: e for e in store.entries(CAMPAIGN, YEAR, STAGE)}
    for addr, msg in by_to.items():
        row = rows[addr]
        assert msg["Message-ID"] == entries[addr]["message_id"]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(msg["List-Unsubscribe"]).strip().startswith("<https://example.org/anniversary/unsubscribe/v1.")
        assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Anniversary-Test"] is None
        text = msg.get_body(("plain",)).get_content()
        body = msg.get_body(("html",)).get_content()
        assert "%anv" not in text + body + str(msg["Subject"])
        assert str(msg["List-Unsubscribe"]).strip()[1:].split(">")[0] in text
        if row.name:
            assert msg["To"].addresses[0].display_name == row.name
            assert f" {row.name}" in text.splitlines()[0]
            assert "Person" in body and "&lt;&amp;&gt;" in body and "<&>" not in body


def test_refused_recipient_fails_that_entry_only(tmp_path: Path, handler: Handler, server: int) -> None:
    handler.refuse = {"person4@example.com"}
    cfg, store, transport, _ = world(tmp_path, server, 12)
    assert run(cfg, store, transport) == {"sent": 11, "failed": 1}
    entry = next(e for e in store.entries(CAMPAIGN, YEAR, STAGE) if e["state"] == "failed")
    assert entry["email"] == "person4@example.com" and "550" in entry["reason"] and "RCPT" in entry["reason"]
    assert "person4@example.com" not in handler.delivered_to() and len(handler.delivered_to()) == 11


def test_deferred_recipient_is_retried(tmp_path: Path, handler: Handler, server: int) -> None:
    handler.defer = {"person2@example.com": 1}
    cfg, store, transport, sleeps = world(tmp_path, server, 5)
    assert run(cfg, store, transport) == {"sent": 5}
    assert len(sleeps) == 1 and Counter(handler.delivered_to())["person2@example.com"] == 1


def test_dropped_connection_reconnects_and_sends_once(tmp_path: Path, handler: Handler, server: int) -> None:
    handler.drop_at_mail = 1
    cfg, store, transport, _ = world(tmp_path, server, 12)
    assert run(cfg, store, transport) == {"sent": 12}
    assert transport.connects == 2
    assert Counter(handler.delivered_to()) == Counter(r.email for r in subscriber_rows(12))


def test_server_restart_between_batches_reconnects(tmp_path: Path, handler: Handler) -> None:
    controller = start(handler)
    port = controller.port
    cfg, store, _, _ = world(tmp_path, port, 25)
    restarted: list[int] = []

    class Bouncing(SmtpTransport):
        def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
            nonlocal controller
            results = super().send_group(batch, prepared)
            if not restarted:  # the server goes away between the first and second batch
                controller.stop()
                controller = start(handler, port=port)
                restarted.append(len(results))
            return results

    transport = Bouncing(cfg.transport.smtp, sleep=lambda s: None)
    with transport:
        counts = Delivery(cfg, store, signer(), transport=transport).send_stage(CAMPAIGN, STAGE, YEAR, NOW).counts
    controller.stop()
    assert counts == {"sent": 25} and restarted and transport.connects == 2
    assert Counter(handler.delivered_to()) == Counter(r.email for r in subscriber_rows(25))


def test_connection_lost_during_data_is_unknown(tmp_path: Path, handler: Handler, server: int) -> None:
    handler.drop_at_data = {"person3@example.com"}
    cfg, store, transport, _ = world(tmp_path, server, 8)
    assert run(cfg, store, transport) == {"sent": 7, "unknown": 1}
    states = ledger_states(store)
    assert states["person3@example.com"] == "unknown" and len(states) == 8
    assert Counter(handler.delivered_to())["person3@example.com"] == 1


def test_login_with_password_from_the_environment(tmp_path: Path, handler: Handler) -> None:
    controller = start(handler, auth=True)
    try:
        cfg, store, transport, _ = world(tmp_path, controller.port, 3, 'username = "mailer"')
        assert run(cfg, store, transport) == {"sent": 3}
    finally:
        controller.stop()


def test_wrong_password_stops_the_run_and_releases_the_claims(
    tmp_path: Path, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password-xyz")
    controller = start(handler, auth=True)
    try:
        cfg, store, transport, _ = world(tmp_path, controller.port, 3, 'username = "mailer"')
        with pytest.raises(TransportError) as caught:
            run(cfg, store, transport)
    finally:
        controller.stop()
    assert caught.value.fatal and "refused the login" in str(caught.value)
    assert "wrong-password-xyz" not in str(caught.value) and ledger_states(store) == {}


def test_missing_password_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMTP_PASSWORD")
    cfg = make_config(tmp_path, '[transport.smtp]\nhost = "smtp.example.org"\nusername = "mailer"', kind="smtp")
    with pytest.raises(MissingSecret, match="SMTP_PASSWORD"):
        SmtpTransport(cfg.transport.smtp)


def test_starttls(tmp_path: Path, handler: Handler) -> None:
    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("no openssl command to make a test certificate")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*pair)
    controller = start(handler, auth=True, tls_context=server_ctx)
    try:
        cfg = make_config(
            tmp_path,
            f'[transport.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "starttls"\n'
            'username = "mailer"',
            kind="smtp",
        )
        store = make_store(cfg, 4)
        transport = SmtpTransport(cfg.transport.smtp, ssl_context=ssl.create_default_context(cafile=str(pair[0])))
        assert run(cfg, store, transport) == {"sent": 4}
        # Without trusting the certificate, nothing is sent: the run stops saying why,
        # and every claim is given back for a run with the right certificate.
        store2 = Store(cfg.database_url)
        untrusted = SmtpTransport(cfg.transport.smtp, sleep=lambda s: None)
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            Delivery(cfg, store2, signer(), transport=untrusted).send_stage(CAMPAIGN, "day-of", YEAR, NOW)
        assert caught.value.fatal and store2.entries(CAMPAIGN, YEAR, "day-of") == []
    finally:
        controller.stop()
    assert len(handler.delivered_to()) == 4


def test_implicit_tls(tmp_path: Path, handler: Handler) -> None:
    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("no openssl command to make a test certificate")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*pair)
    controller = start(handler, ssl_context=server_ctx)
    try:
        cfg = make_config(
            tmp_path,
            f'[transport.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "tls"',
            kind="smtp",
        )
        store = make_store(cfg, 3)
        transport = SmtpTransport(cfg.transport.smtp, ssl_context=ssl.create_default_context(cafile=str(pair[0])))
        assert run(cfg, store, transport) == {"sent": 3}
    finally:
        controller.stop()
    assert sorted(handler.delivered_to()) == sorted(r.email for r in subscriber_rows(3))
