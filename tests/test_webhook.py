"""SendGrid's Event Webhook: signatures checked with the official helper over the raw
body, SendGrid's own published test vector, replays, each event kind on a real SQLite
file, and hostile bodies. Events for our own messages are made from the very request
bodies the real ``sendgrid`` client sent to the loopback sink, so their custom args are
the ones SendGrid would echo."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sg_sink import Sink
from sg_world import NOW, make_config, make_store, signer

from scheduler.config import Config
from scheduler.content.tokens import Keyring
from scheduler.delivery.runs import Delivery
from scheduler.lifecycle.webhook import Applied, WebhookRefused, apply, verify
from scheduler.store import Store, SubscriberRow
from scheduler.web.webhook import MAX_BODY, SIGNATURE, TIMESTAMP, router

pytestmark = pytest.mark.usefixtures("sendgrid_env")

# SendGrid's published test vector (sendgrid-python, test/unit/test_eventwebhook.py).
VECTOR_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
VECTOR_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
VECTOR_TIMESTAMP = "1600112502"
VECTOR_EVENT = {
    "email": "hello@world.com",
    "event": "dropped",
    "reason": "Bounced Address",
    "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
    "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
    "timestamp": 1600112492,
}
# The trailing CR LF is part of what SendGrid signed.
VECTOR_BODY = (json.dumps([VECTOR_EVENT], sort_keys=True, separators=(",", ":")) + "\r\n").encode()
VECTOR_NOW = datetime.fromtimestamp(int(VECTOR_TIMESTAMP) + 30, UTC)
OTHER_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
OTHER_SIGNATURE = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
PATH = "/anniversary/webhooks/sendgrid"
CAMPAIGN, YEAR = "black-january", 2027


class Signing:
    """A key pair of our own, signing as SendGrid does: ECDSA P-256 over SHA-256 of
    ``timestamp + body``, DER, base64; the public key as base64 DER (MFkwEwYH...)."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = base64.b64encode(der).decode()

    def headers(self, body: bytes, at: datetime) -> dict[str, str]:
        stamp = str(int(at.timestamp()))
        sig = self.private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE: base64.b64encode(sig).decode(), TIMESTAMP: stamp, "Content-Type": "application/json"}


@dataclass
class Web:
    client: TestClient
    store: Store
    config: Config
    keys: Signing
    clock: list[datetime]

    def post(self, events: Any, *, at: datetime | None = None) -> Any:
        body = events if isinstance(events, bytes) else json.dumps(events).encode()
        return self.client.post(PATH, content=body, headers=self.keys.headers(body, at or self.clock[0]))

    def status(self, email: str) -> tuple[str, str | None]:
        row = self.store.get_subscriber(email)
        assert row is not None
        return row["status"], row["status_reason"]


def _app(config: Config, store: Store, clock: list[datetime]) -> FastAPI:
    # As the web app mounts its routers: under the path of sender.public_url.
    app = FastAPI()
    app.state.config = config
    app.state.store = store
    app.state.keyring = Keyring.from_config(config)
    app.state.clock = lambda: clock[0]
    app.include_router(router, prefix="/anniversary")
    return app


def _world(tmp_path: Path, public_key: str | None, n: int = 0, transport: str = "", max_age: int = 600) -> Web:
    keys = Signing()
    key = public_key if public_key is not None else keys.public
    web_table = f'\n[web.sendgrid_webhook]\npublic_key = "{key}"\nmax_age_seconds = {max_age}\n' if key else ""
    config = make_config(tmp_path, transport + web_table)
    store = make_store(config, n)
    clock = [NOW]
    return Web(TestClient(_app(config, store, clock)), store, config, keys, clock)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    yield _world(tmp_path, None, 3)


# -- the signature ----------------------------------------------------------------------


def test_sendgrids_published_test_vector_verifies_over_the_exact_raw_body() -> None:
    verify(VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NOW, 600)


@pytest.mark.parametrize(
    ("key", "body", "signature", "stamp", "why"),
    [
        (OTHER_KEY, VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, "another key"),
        (VECTOR_KEY, VECTOR_BODY.replace(b"Bounced", b"Bounces"), VECTOR_SIGNATURE, VECTOR_TIMESTAMP, "one byte"),
        (VECTOR_KEY, VECTOR_BODY[:-2], VECTOR_SIGNATURE, VECTOR_TIMESTAMP, "the CR LF dropped"),
        (VECTOR_KEY, json.dumps([VECTOR_EVENT]).encode(), VECTOR_SIGNATURE, VECTOR_TIMESTAMP, "re-serialised"),
        (VECTOR_KEY, VECTOR_BODY, OTHER_SIGNATURE, VECTOR_TIMESTAMP, "another signature"),
        (VECTOR_KEY, VECTOR_BODY, "bm90IGEgc2lnbmF0dXJl", VECTOR_TIMESTAMP, "not DER"),
        (VECTOR_KEY, VECTOR_BODY, "%%% not base64 %%%", VECTOR_TIMESTAMP, "not base64"),
        (VECTOR_KEY, VECTOR_BODY, "", VECTOR_TIMESTAMP, "no signature"),
        (VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, "1600112503", "another time stamp"),
        (VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, "timestamp", "a time stamp that is no number"),
        (VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, "", "no time stamp"),
    ],
)
def test_test_vector_with_anything_changed_is_refused(
    key: str, body: bytes, signature: str, stamp: str, why: str
) -> None:
    with pytest.raises(WebhookRefused):
        verify(key, body, signature, stamp, VECTOR_NOW, 0)


def test_a_time_stamp_older_than_max_age_is_refused_and_0_turns_the_check_off() -> None:
    late = datetime.fromtimestamp(int(VECTOR_TIMESTAMP) + 601, UTC)
    with pytest.raises(WebhookRefused) as caught:
        verify(VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, late, 600)
    assert str(caught.value) == (
        "signed at 2020-09-14 19:41:42 UTC, more than 600 s ago ([web.sendgrid_webhook] max_age_seconds)"
    )
    verify(VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, late + timedelta(days=2000), 0)


def test_a_time_stamp_far_ahead_of_our_clock_is_refused() -> None:
    early = datetime.fromtimestamp(int(VECTOR_TIMESTAMP) - 301, UTC)
    with pytest.raises(WebhookRefused) as caught:
        verify(VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, early, 600)
    assert str(caught.value) == "signed at 2020-09-14 19:41:42 UTC, ahead of this server's clock"
    verify(VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, early + timedelta(seconds=2), 600)


def test_the_vector_through_the_route_bounces_its_subscriber(tmp_path: Path) -> None:
    w = _world(tmp_path, VECTOR_KEY)
    w.store.upsert_subscribers([SubscriberRow("hello@world.com", "", "en", "Asia/Baku")], "import", NOW)
    w.clock[0] = VECTOR_NOW
    headers = {SIGNATURE: VECTOR_SIGNATURE, TIMESTAMP: VECTOR_TIMESTAMP}
    res = w.client.post(PATH, content=VECTOR_BODY, headers=headers)
    assert (res.status_code, res.text) == (200, "ok\n")
    assert w.status("hello@world.com") == ("bounced", "SendGrid dropped: bounced address")
    again = w.client.post(PATH, content=json.dumps([VECTOR_EVENT]).encode(), headers=headers)
    assert (again.status_code, again.text) == (403, "signature refused\n")


@pytest.mark.parametrize(
    "headers",
    [{}, {TIMESTAMP: "1768284000"}, {SIGNATURE: "MEUCIGHQ"}, {SIGNATURE: "MEUCIGHQ", TIMESTAMP: "1768284000"}],
)
def test_a_request_without_a_good_signature_is_403_and_changes_nothing(web: Web, headers: dict[str, str]) -> None:
    body = json.dumps([{"event": "bounce", "email": "person0@example.com", "sg_event_id": "a"}]).encode()
    res = web.client.post(PATH, content=body, headers=headers)
    assert (res.status_code, res.text) == (403, "signature refused\n")
    assert web.status("person0@example.com") == ("active", None)


def test_signed_by_another_key_is_403(web: Web) -> None:
    body = json.dumps([{"event": "bounce", "email": "person0@example.com", "sg_event_id": "a"}]).encode()
    res = web.client.post(PATH, content=body, headers=Signing().headers(body, NOW))
    assert res.status_code == 403 and web.status("person0@example.com") == ("active", None)


def test_no_public_key_configured_is_503_with_one_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    w = _world(tmp_path, "", 1)
    with caplog.at_level(logging.WARNING, logger="scheduler.web.webhook"):
        res = w.post([{"event": "bounce", "email": "person0@example.com", "sg_event_id": "a"}])
    assert (res.status_code, res.text) == (503, "the webhook is not configured\n")
    assert [r.getMessage() for r in caplog.records] == [
        "SendGrid event refused (503): [web.sendgrid_webhook] public_key is not set; "
        "paste the Signed Event Webhook's verification key there"
    ]


def test_a_configured_key_that_is_no_key_is_503_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = _world(tmp_path, "QUFBQQ==", 1)
    with caplog.at_level(logging.WARNING, logger="scheduler.web.webhook"):
        res = w.post([{"event": "bounce", "email": "person0@example.com", "sg_event_id": "a"}])
    assert (res.status_code, res.text) == (503, "the webhook is not configured\n")
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(
        "SendGrid event refused (503): [web.sendgrid_webhook] public_key is not a verification key SendGrid shows: "
    )
    assert w.status("person0@example.com") == ("active", None)


# -- replays --------------------------------------------------------------------------


def test_a_replayed_request_is_applied_once(web: Web) -> None:
    events = [{"event": "unsubscribe", "email": "person0@example.com", "sg_event_id": "u-1", "timestamp": 1768284000}]
    assert web.post(events).status_code == 200
    assert web.status("person0@example.com") == ("unsubscribed", "SendGrid unsubscribe")
    # They sign up again and confirm; SendGrid then repeats the old event (a retry).
    web.store.confirm(web.store.subscriber_id_for("person0@example.com") or 0, None, [], NOW)
    assert web.post(events, at=NOW + timedelta(minutes=5)).status_code == 200
    assert web.status("person0@example.com") == ("active", "confirmed")


def test_the_same_event_twice_in_one_body_counts_once(web: Web) -> None:
    event = {"event": "spamreport", "email": "person1@example.com", "sg_event_id": "s-1"}
    keyring = Keyring.from_config(web.config)
    assert apply(web.store, keyring, [event, dict(event)], NOW) == Applied(suppressed=1, repeated=1)
    assert apply(web.store, keyring, [event], NOW) == Applied(repeated=1)


def test_a_batch_that_fails_half_way_is_applied_whole_when_retried(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    events = [
        {"event": "bounce", "email": f"person{n}@example.com", "sg_event_id": f"b-{n}", "status": "5.1.1"}
        for n in range(3)
    ]
    keyring = Keyring.from_config(web.config)
    real = web.store.opt_out
    calls: list[int] = []

    def fails_on_the_second(sid: int, *args: Any) -> Any:
        calls.append(sid)
        if len(calls) == 2:
            raise OSError("disk went away")
        return real(sid, *args)

    monkeypatch.setattr(web.store, "opt_out", fails_on_the_second)
    with pytest.raises(OSError):
        apply(web.store, keyring, events, NOW)
    monkeypatch.setattr(web.store, "opt_out", real)
    # Nothing was recorded as applied, so SendGrid's retry applies every event.
    assert apply(web.store, keyring, events, NOW) == Applied(suppressed=3)
    assert [web.status(f"person{n}@example.com")[0] for n in range(3)] == ["bounced"] * 3
    assert apply(web.store, keyring, events, NOW) == Applied(repeated=3)


# -- each event on a real database ------------------------------------------------------


@pytest.fixture
def sent(tmp_path: Path, sink: Sink) -> Iterator[tuple[Web, dict[str, dict[str, str]]]]:
    """Six subscribers sent the reminder through the real client; each one's custom
    args, as the request to SendGrid carried them (message level, then personalization)."""
    w = _world(tmp_path, None, 6, f'[transport.sendgrid]\nhost = "{sink.url}"\n')
    Delivery(w.config, w.store, signer()).send_stage(CAMPAIGN, "reminder", YEAR, NOW)
    args: dict[str, dict[str, str]] = {}
    for seen in sink.seen:
        for p in seen.body["personalizations"]:
            args[p["to"][0]["email"]] = {**seen.body["custom_args"], **p["custom_args"]}
    assert sorted(args) == [f"person{i}@example.com" for i in range(6)]
    yield w, args


def _event(kind: str, email: str, args: dict[str, str] | None, n: int, **more: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "email": email,
        "sg_event_id": f"{kind}-{n}",
        "timestamp": 1768284000 + n,
        **(args or {}),
        **more,
    }


def _delivery(w: Web, email: str, stage: str = "reminder") -> tuple[str | None, datetime | None]:
    (entry,) = [e for e in w.store.entries(CAMPAIGN, YEAR, stage) if e["email"] == email]
    return entry["delivery"], entry["delivery_at"]


def test_each_event_kind_does_what_sendgrid_means(sent: tuple[Web, dict[str, dict[str, str]]]) -> None:
    w, args = sent
    a = [f"person{i}@example.com" for i in range(6)]
    events = [
        _event("delivered", a[0], args[a[0]], 1, response="250 OK"),
        _event("bounce", a[1], args[a[1]], 2, status="5.1.1", reason=f"550 5.1.1 <{a[1]}>: unknown", type="bounce"),
        _event("spamreport", a[2], args[a[2]], 3),
        _event("group_unsubscribe", a[3], args[a[3]], 4, asm_group_id=42),
        _event("dropped", a[4], args[a[4]], 5, reason="Spam Reporting Address"),
        _event("deferred", a[5], args[a[5]], 6, response="421 try later", attempt="1"),
        _event("open", a[0], args[a[0]], 7),
        _event("processed", a[0], args[a[0]], 8),
    ]
    res = w.post(events)
    assert res.status_code == 200
    assert [w.status(e) for e in a] == [
        ("active", None),
        ("bounced", "SendGrid bounce 5.1.1"),
        ("complained", "SendGrid spamreport"),
        ("unsubscribed", "SendGrid group_unsubscribe (group 42)"),
        ("complained", "SendGrid dropped: spam reporting address"),
        ("active", None),
    ]
    at = [datetime.fromtimestamp(1768284000 + n, UTC) for n in range(9)]
    assert [_delivery(w, e) for e in a] == [
        ("delivered", at[1]),
        ("bounce", at[2]),
        (None, None),
        (None, None),
        ("dropped", at[5]),
        ("deferred", at[6]),
    ]
    # A deferral that happened before the delivery never overwrites it.
    assert w.post([_event("deferred", a[0], args[a[0]], 0)]).status_code == 200
    assert _delivery(w, a[0]) == ("delivered", at[1])


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("Bounced Address", ("bounced", "SendGrid dropped: bounced address")),
        ("Unsubscribed Address", ("unsubscribed", "SendGrid dropped: unsubscribed address")),
        ("Spam Reporting Address", ("complained", "SendGrid dropped: spam reporting address")),
        ("Invalid SMTPAPI header", ("active", None)),
        ("Spam Content (if Spam Checker app is enabled)", ("active", None)),
    ],
)
def test_dropped_suppresses_only_for_an_address_on_a_sendgrid_list(
    web: Web, reason: str, status: tuple[str, str]
) -> None:
    assert web.post([_event("dropped", "person2@example.com", None, 1, reason=reason)]).status_code == 200
    assert web.status("person2@example.com") == status


def test_a_group_unsubscribe_from_another_group_changes_nothing(tmp_path: Path) -> None:
    w = _world(tmp_path, None, 2, "[transport.sendgrid]\nasm_group_id = 42\n")
    res = w.post(
        [
            _event("group_unsubscribe", "person0@example.com", None, 1, asm_group_id=7),
            _event("group_unsubscribe", "person1@example.com", None, 2, asm_group_id=42),
        ]
    )
    assert res.status_code == 200
    assert w.status("person0@example.com") == ("active", None)
    assert w.status("person1@example.com") == ("unsubscribed", "SendGrid group_unsubscribe (group 42)")


def test_an_event_without_custom_args_is_matched_by_address_in_any_case(web: Web) -> None:
    assert web.post([_event("bounce", "Person1@EXAMPLE.com", None, 1, type="blocked")]).status_code == 200
    assert web.status("person1@example.com") == ("bounced", "SendGrid block")


def test_an_address_on_no_subscriber_goes_on_the_suppression_list_as_a_hash(web: Web) -> None:
    assert web.post([_event("spamreport", "Stranger@Example.org", None, 1)]).status_code == 200
    keyring = Keyring.from_config(web.config)
    assert web.store.suppressed(keyring.email_hashes("stranger@example.org")) == {
        keyring.email_hashes("stranger@example.org")[0]
    }


def test_an_unsubscribe_never_overwrites_a_bounce(web: Web) -> None:
    web.post([_event("bounce", "person0@example.com", None, 1)])
    web.post([_event("unsubscribe", "person0@example.com", None, 2)])
    assert web.status("person0@example.com") == ("bounced", "SendGrid bounce")


def test_custom_args_naming_someone_else_fall_back_to_the_address(sent: tuple[Web, dict[str, dict[str, str]]]) -> None:
    w, args = sent
    # The event is person3's; its custom args name person4's entry.
    w.post([_event("spamreport", "person3@example.com", args["person4@example.com"], 1)])
    assert w.status("person3@example.com")[0] == "complained"
    assert w.status("person4@example.com") == ("active", None)


def test_the_next_send_skips_a_subscriber_who_bounced(sent: tuple[Web, dict[str, dict[str, str]]], sink: Sink) -> None:
    w, args = sent
    w.post([_event("bounce", "person2@example.com", args["person2@example.com"], 1, status="5.1.1")])
    before = len(sink.seen)
    later = NOW + timedelta(days=7)
    w.clock[0] = later
    counts = Delivery(w.config, w.store, signer()).send_stage(CAMPAIGN, "day-of", YEAR, later)
    mailed = sorted(a for s in sink.seen[before:] for a in s.addresses())
    assert mailed == [f"person{i}@example.com" for i in (0, 1, 3, 4, 5)]
    assert counts.counts == {"sent": 5}


def test_test_messages_and_strangers_custom_args_touch_no_ledger_entry(
    sent: tuple[Web, dict[str, dict[str, str]]],
) -> None:
    w, args = sent
    test_args = {**args["person0@example.com"], "subscriber": "test"}
    other = {"campaign": "another-app", "year": "2027", "stage": "x", "subscriber": "1"}
    res = w.post(
        [_event("delivered", "person0@example.com", test_args, 1), _event("delivered", "person1@example.com", other, 2)]
    )
    assert res.status_code == 200
    assert _delivery(w, "person0@example.com") == (None, None) and _delivery(w, "person1@example.com") == (None, None)


# -- malformed and hostile ----------------------------------------------------------------


def test_malformed_events_are_counted_and_skipped_and_the_rest_applied(web: Web) -> None:
    keyring = Keyring.from_config(web.config)
    events: list[Any] = [
        1,
        "bounce",
        None,
        [],
        {},
        {"event": "bounce"},
        {"event": "bounce", "email": "no-at-sign"},
        {"event": 5, "email": "person0@example.com"},
        {"event": "bounce", "email": ["person0@example.com"]},
        {"event": "delivered", "email": "person0@example.com", "campaign": {}, "year": 2027, "subscriber": 1},
        {"event": "bounce", "email": "person0@example.com", "timestamp": "soon", "sg_event_id": 7, "status": "<b>"},
    ]
    assert apply(web.store, keyring, events, NOW) == Applied(suppressed=1, malformed=9, ignored=1, delivery=0)
    assert web.status("person0@example.com") == ("bounced", "SendGrid bounce")
    assert web.post(events).status_code == 200


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"not json", "the body is not JSON\n"),
        (b'{"event": "bounce"}', "the body is a JSON dict, not an array of events\n"),
        (b"[" * 100_000 + b"]" * 100_000, "the body is not JSON\n"),
        (b"[" + b"9" * 5000 + b"]", "the body is not JSON\n"),
        (b"", "the body is not JSON\n"),
    ],
)
def test_a_signed_body_that_is_not_an_array_is_400(web: Web, body: bytes, text: str) -> None:
    res = web.post(body)
    assert (res.status_code, res.text) == (400, text)


def test_a_body_that_is_not_utf8_is_403(web: Web) -> None:
    assert web.post(b'[{"email": "\xff"}]').status_code == 403


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(web: Web) -> None:
    huge = b"[" + b" " * MAX_BODY + b"]"
    res = web.post(huge)
    assert (res.status_code, res.text) == (413, f"body over {MAX_BODY} bytes\n")

    def chunks() -> Iterator[bytes]:
        for _ in range(6):
            yield b" " * (1024 * 1024)

    streamed = web.client.post(PATH, content=chunks(), headers=web.keys.headers(b"", NOW))
    assert streamed.status_code == 413


def test_hostile_strings_in_events_are_kept_out_of_reasons(web: Web) -> None:
    nasty = "<script>alert(1)</script>\r\nBcc: x@evil.example" + "A" * 10_000
    events = [_event("bounce", "person0@example.com", None, 1, status=nasty, reason=nasty, type=nasty)]
    assert web.post(events).status_code == 200
    assert web.status("person0@example.com") == ("bounced", "SendGrid bounce")


def test_the_web_app_answers_the_webhook_under_its_public_path(tmp_path: Path) -> None:
    from scheduler.web.app import create_app

    w = _world(tmp_path, None, 2)
    client = TestClient(create_app(w.config, clock=lambda: NOW))
    body = json.dumps([_event("spamreport", "person1@example.com", None, 1)]).encode()
    res = client.post(PATH, content=body, headers=w.keys.headers(body, NOW))
    assert (res.status_code, res.text) == (200, "ok\n")
    assert w.status("person1@example.com") == ("complained", "SendGrid spamreport")
    assert client.post(PATH, content=body).status_code == 403
