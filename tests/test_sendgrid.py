"""The SendGrid transport through the real ``sendgrid`` client, against a loopback server
that validates every body against SendGrid's OpenAPI spec and injects faults."""

from __future__ import annotations

import html
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sg_sink import Fault, Sink
from sg_world import API_KEY, NOW, ledger_states, make_config, make_store, signer, subscriber_rows

from scheduler.cli import cli
from scheduler.config import Config
from scheduler.content.compose import Person
from scheduler.content.groups import Batch, Recipient
from scheduler.content.templates import SubscriberView
from scheduler.core.outcomes import State
from scheduler.delivery.runs import Delivery
from scheduler.errors import MissingSecret, TransportError
from scheduler.store import Store, SubscriberRow
from scheduler.transports.sendgrid import SendgridTransport

CAMPAIGN, STAGE, YEAR = "black-january", "reminder", 2027

pytestmark = pytest.mark.usefixtures("sendgrid_env")


class Clock:
    """Injected into the transport: sleeps are recorded, not waited."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


def world(
    tmp_path: Path, sink_url: str, n: int, extra: str = "", transport: str = "batch_size = 1000"
) -> tuple[Config, Store, SendgridTransport, Clock]:
    cfg = make_config(
        tmp_path,
        f'{transport}\n[transport.sendgrid]\nhost = "{sink_url}"\ntimeout_seconds = 0.4\nmax_retries = 2\n{extra}',
    )
    store = make_store(cfg, n)
    clock = Clock()
    return cfg, store, SendgridTransport(cfg.transport.sendgrid, sleep=clock.sleep, clock=clock.time), clock


def send(cfg: Config, store: Store, transport: SendgridTransport) -> Any:
    return Delivery(cfg, store, signer(), transport=transport).send_stage(CAMPAIGN, STAGE, YEAR, NOW)


def groups(n: int) -> int:
    """Content groups among the first n generated subscribers: language x zone x named."""
    return len({(r.language, r.timezone, bool(r.name)) for r in subscriber_rows(n)})


def assert_each_once(store: Store, sink: Sink, n: int) -> dict[str, str]:
    states = ledger_states(store)
    assert len(states) == n, "every subscriber ends in exactly one ledger state"
    accepted = Counter(sink.accepted_addresses())
    assert not [a for a, k in accepted.items() if k > 1], "no address is sent the stage twice"
    assert not sink.errors, sink.errors[:3]
    return states


def test_batches_validate_against_the_spec_and_carry_each_recipient(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 120)
    result = send(cfg, store, transport)
    assert result.counts == {"sent": 120}
    states = assert_each_once(store, sink, 120)
    assert set(states.values()) == {"sent"}
    # 4 languages x 3 zones x (named, unnamed): one request per content group.
    assert len(sink.seen) == 24
    ids = {s.message_id for s in sink.seen}
    entries = {e["email"]: e for e in store.entries(CAMPAIGN, YEAR, STAGE)}
    assert {e["message_id"] for e in entries.values()} == ids
    for seen in sink.seen:
        assert seen.authorization == f"Bearer {API_KEY}"
        body = seen.body
        assert (body["subject"] and "%anv" not in body["subject"]) or "%anv-name-t%" in body["subject"]
        assert body["tracking_settings"]["click_tracking"]["enable"] is False
        for p in body["personalizations"]:
            # custom_args name the ledger entry by its unique key, and nothing personal:
            # campaign, year and stage for the request, the subscriber's id for each.
            entry = entries[p["to"][0]["email"]]
            assert p["custom_args"] == {"subscriber": str(entry["subscriber_id"])}
            assert body["custom_args"] == {"campaign": CAMPAIGN, "year": str(YEAR), "stage": STAGE}
            assert p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert p["substitutions"]["%anv-unsub-t%"] in p["headers"]["List-Unsubscribe"]
        assert "@" not in str(body["categories"]) + str(body["custom_args"])


def test_substituted_content_equals_rendering_each_recipient(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 40)
    sender = Delivery(cfg, store, signer(), transport=transport)
    sender.send_stage(CAMPAIGN, STAGE, YEAR, NOW)
    campaign = cfg.get_campaign(CAMPAIGN)
    stage = campaign.get_stage(STAGE)
    rows = {r.email: (i + 1, r) for i, r in enumerate(subscriber_rows(40))}
    checked = 0
    for seen in sink.seen:
        text, body_html = (c["value"] for c in seen.body["content"])
        for p in seen.body["personalizations"]:
            sid, row = rows[p["to"][0]["email"]]
            subject, t, h = seen.body["subject"], text, body_html
            for key, value in p["substitutions"].items():
                subject, t, h = subject.replace(key, value), t.replace(key, value), h.replace(key, value)
            alone = sender.composer.render(
                campaign, stage, YEAR, SubscriberView(row.name, row.language, row.timezone), sid
            )
            assert (subject, t, h) == (alone.subject, alone.text, alone.html)
            checked += 1
    assert checked == 40
    assert any(html.escape("<&>") in c["value"] for s in sink.seen for c in s.body["content"]) is False


def test_1000_personalizations_at_most_per_request(tmp_path: Path, sink: Sink) -> None:
    cfg = make_config(tmp_path, f'batch_size = 1000\n[transport.sendgrid]\nhost = "{sink.url}"')
    store = Store(cfg.database_url)
    rows = [SubscriberRow(f"same{i}@example.com", "Ana", "en", "Asia/Baku") for i in range(2300)]
    store.upsert_subscribers(rows, "import", NOW)
    send(cfg, store, SendgridTransport(cfg.transport.sendgrid))
    assert sorted(len(s.body["personalizations"]) for s in sink.seen) == [300, 1000, 1000]
    assert_each_once(store, sink, 2300)


def test_429_waits_until_the_reset_time(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, clock = world(tmp_path, sink.url, 10, transport="batch_size = 1000")
    reset = int(clock.now) + 7
    sink.faults = [Fault(429, {"X-RateLimit-Reset": str(reset)}, {"errors": [{"message": "too many"}]})]
    result = send(cfg, store, transport)
    assert result.counts["sent"] == 10
    assert 7 <= clock.sleeps[0] <= 7.3
    assert_each_once(store, sink, 10)


def test_429_without_reset_backs_off_exponentially_with_jitter(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, clock = world(tmp_path, sink.url, 3)
    sink.faults = [Fault(429), Fault(429)]
    send(cfg, store, transport)
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5 and 0.5 <= clock.sleeps[1] <= 1.0
    assert set(assert_each_once(store, sink, 3).values()) == {"sent"}


@pytest.mark.parametrize("codes", [(500,), (503, 500)])
def test_5xx_is_retried_then_sent(tmp_path: Path, sink: Sink, codes: tuple[int, ...]) -> None:
    cfg, store, transport, clock = world(tmp_path, sink.url, 5)
    sink.faults = [Fault(c) for c in codes]
    result = send(cfg, store, transport)
    assert result.counts == {"sent": 5} and len(clock.sleeps) == len(codes)


def test_5xx_past_max_retries_fails_the_batch_and_the_run_goes_on(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 40)
    sink.faults = [Fault(500), Fault(503), Fault(500)]  # max_retries = 2: three attempts
    result = send(cfg, store, transport)
    states = assert_each_once(store, sink, 40)
    failed = [e for e in store.entries(CAMPAIGN, YEAR, STAGE) if e["state"] == "failed"]
    assert failed and all("SendGrid 500" in e["reason"] and "3 attempts" in e["reason"] for e in failed)
    assert result.counts["sent"] + result.counts["failed"] == 40 and list(states.values()).count("sent") > 0


def test_400_and_413_fail_with_sendgrids_message_and_no_retry(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, clock = world(tmp_path, sink.url, 40)
    msg = "The from email does not contain a valid address."
    sink.faults = [
        Fault(400, body={"errors": [{"message": msg, "field": "from.email", "help": None}]}),
        Fault(413, body={"errors": [{"message": "Payload Too Large", "field": None}]}),
    ]
    send(cfg, store, transport)
    reasons = Counter(e["reason"] for e in store.entries(CAMPAIGN, YEAR, STAGE) if e["state"] == "failed")
    assert f"SendGrid 400: {msg} (field from.email)" in reasons
    assert "SendGrid 413: Payload Too Large" in reasons
    assert clock.sleeps == [] and len(sink.seen) == groups(40)
    assert_each_once(store, sink, 40)


def test_response_slower_than_the_timeout_is_unknown_and_never_resent(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 12)
    sink.faults = [Fault(delay=0.8)]
    send(cfg, store, transport)
    states = assert_each_once(store, sink, 12)
    unknown = [a for a, s in states.items() if s == "unknown"]
    assert len(unknown) == len(sink.seen[0].addresses()) and len(sink.seen) == groups(12)
    assert Counter(sink.accepted_addresses())[unknown[0]] == 1  # it did arrive once, and only once
    entry = next(e for e in store.entries(CAMPAIGN, YEAR, STAGE) if e["state"] == "unknown")
    assert "answer was lost" in entry["reason"] and "TimeoutError" in entry["reason"]
    # A second run leaves unknown entries alone.
    send(cfg, store, transport)
    assert len(sink.seen) == groups(12)
    # `anniversary status` lists them, with the command that resends them on purpose.
    out = CliRunner().invoke(cli, ["status", "--year", str(YEAR), "--config", str(cfg.path)]).output
    assert f"unknown: {unknown[0]}" in out or "unknown:" in out
    assert f"anniversary resend {CAMPAIGN} {STAGE} --year {YEAR} --state unknown" in out


def test_connection_dropped_after_202_is_unknown(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, clock = world(tmp_path, sink.url, 12)
    sink.faults = [Fault(), Fault(drop=True)]
    result = send(cfg, store, transport)
    assert result.counts["unknown"] == len(sink.seen[1].addresses())
    assert clock.sleeps == [] and len(sink.seen) == groups(12)
    assert_each_once(store, sink, 12)


def test_unreachable_host_is_retried_then_stops_the_run_giving_claims_back(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg, store, transport, clock = world(tmp_path, f"http://127.0.0.1:{port}", 3)
    with pytest.raises(TransportError) as caught:
        send(cfg, store, transport)
    assert caught.value.fatal and caught.value.exit_code == 3
    assert "could not reach SendGrid" in str(caught.value) and "3 attempts" in str(caught.value)
    assert len(clock.sleeps) == 2, "one batch retried, then the run stopped"
    # Nobody was failed one by one: every claim was given back for the next run.
    assert store.entries(CAMPAIGN, YEAR, STAGE) == [] and store.count_unsent(CAMPAIGN, YEAR, STAGE) == 3


@pytest.mark.parametrize("code", [401, 403])
def test_wrong_key_stops_the_run_at_once(tmp_path: Path, sink: Sink, code: int) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 40)
    sink.faults = [Fault(), Fault(), Fault(code, body={"errors": [{"message": "authorization required"}]})]
    with pytest.raises(TransportError) as caught:
        send(cfg, store, transport)
    assert caught.value.fatal and str(code) in str(caught.value) and API_KEY not in str(caught.value)
    assert len(sink.seen) == 3, "no request after the refusal"
    sent = sink.seen[0].addresses() + sink.seen[1].addresses()
    states = ledger_states(store)
    # What went out stays recorded; everything else was released for a corrected run.
    assert sorted(states) == sorted(sent) and set(states.values()) == {"sent"}


def test_wrong_key_through_the_cli_is_one_error_line(tmp_path: Path, sink: Sink) -> None:
    cfg, store, _, _ = world(tmp_path, sink.url, 5)
    sink.faults = [Fault(401, body={"errors": [{"message": "The provided authorization grant is invalid"}]})]
    res = CliRunner().invoke(cli, ["send", CAMPAIGN, STAGE, "--year", str(YEAR), "--yes", "--config", str(cfg.path)])
    assert res.exit_code == 3, "a fatal transport error stopped the run"
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "401" in errors[0] and "SENDGRID_API_KEY" in errors[0]
    assert API_KEY not in res.output and ledger_states(store) == {}


def test_missing_key_is_a_config_error(tmp_path: Path, sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENDGRID_API_KEY")
    cfg = make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    with pytest.raises(MissingSecret):
        SendgridTransport(cfg.transport.sendgrid)
    res = CliRunner().invoke(cli, ["send", CAMPAIGN, STAGE, "--year", str(YEAR), "--yes", "--config", str(cfg.path)])
    assert res.exit_code == 2 and res.output.startswith("Error: environment variable SENDGRID_API_KEY is not set")


def test_api_key_appears_nowhere_even_at_debug(
    tmp_path: Path, sink: Sink, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg, store, transport, _ = world(tmp_path, sink.url, 40)
    sink.faults = [Fault(), Fault(500), Fault(400, body={"errors": [{"message": "bad"}]}), Fault(drop=True), Fault(401)]
    with pytest.raises(TransportError) as caught:
        send(cfg, store, transport)
    assert sink.seen and all(s.authorization == f"Bearer {API_KEY}" for s in sink.seen), "the key was really used"
    reasons = " ".join(str(e["reason"]) for e in store.entries(CAMPAIGN, YEAR, STAGE))
    out = capsys.readouterr()
    everything = caplog.text + reasons + str(caught.value) + repr(transport) + out.out + out.err
    assert caplog.records, "DEBUG logging was on"
    assert API_KEY not in everything and "Bearer" not in everything
    assert not [r for r in caplog.records if r.name.startswith("python_http_client")]


def test_sandbox_mode_and_asm_group(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 3, extra="sandbox_mode = true\nasm_group_id = 4242")
    send(cfg, store, transport)
    body = sink.seen[0].body
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}} and body["asm"] == {"group_id": 4242}
    assert transport.client.client.timeout == 0.4, "a timeout is always set"


def test_a_template_that_transforms_the_name_is_rendered_per_recipient(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 8)
    path = tmp_path / "templates" / "black-january" / "en" / "reminder.txt.j2"
    path.write_text("HELLO {{ subscriber.name|upper }}\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    send(cfg, store, transport)
    assert_each_once(store, sink, 8)
    english = [s for s in sink.seen if "HELLO" in s.body["content"][0]["value"]]
    assert english and all(len(s.body["personalizations"]) == 1 for s in english)
    assert any("HELLO PERSON 0 <&> ƏLIYEVA" in s.body["content"][0]["value"] for s in english)


def test_names_cannot_add_headers_or_exceed_the_size_limit(tmp_path: Path, sink: Sink) -> None:
    cfg, store, transport, _ = world(tmp_path, sink.url, 0)
    rows = [
        SubscriberRow("crlf@example.com", "Eve\r\nBcc: victim@example.com", "en", "Asia/Baku"),
        SubscriberRow("huge@example.com", "Ə" * 3000, "en", "Asia/Baku"),
        SubscriberRow("tricky@example.com", "Ann %anv-unsub-t%", "en", "Asia/Baku"),
    ]
    store.upsert_subscribers(rows, "import", NOW)
    send(cfg, store, transport)
    states = assert_each_once(store, sink, 3)
    assert states == {"crlf@example.com": "sent", "huge@example.com": "failed", "tricky@example.com": "sent"}
    huge = next(e for e in store.entries(CAMPAIGN, YEAR, STAGE) if e["email"] == "huge@example.com")
    assert "10000 bytes" in huge["reason"]
    people = {p["to"][0]["email"]: p for s in sink.seen for p in s.body["personalizations"]}
    assert people["crlf@example.com"]["to"][0]["name"] == "Eve Bcc: victim@example.com"
    assert all("\n" not in v for v in people["crlf@example.com"]["substitutions"].values())
    assert people["tricky@example.com"]["substitutions"]["%anv-name-t%"] == "Ann"


def test_each_content_group_is_its_own_request_and_keeps_its_entries(tmp_path: Path, sink: Sink) -> None:
    cfg, _, transport, _ = world(tmp_path, sink.url, 0)
    sender = Delivery(cfg, Store(cfg.database_url), signer(), transport=transport)
    campaign = cfg.get_campaign(CAMPAIGN)
    stage = campaign.get_stage(STAGE)
    results = []
    for i, lang in enumerate(["en", "az", "en", "ru"], start=1):
        person = Person(i, f"m{i}@example.com", "", lang, "Asia/Baku")
        (batch,) = sender.composer.compose(campaign, stage, YEAR, NOW, (lang, "Asia/Baku", False), [person]).batches
        results += transport.send_group(batch.claimed({i: 10 + i}, complete=True))
    assert [r.entry_id for r in results] == [11, 12, 13, 14] and {r.state for r in results} == {State.SENT}
    assert len(sink.seen) == 4 and not sink.errors  # each rendered text carries its own link


def test_recipients_without_entries_share_one_request_and_its_outcome(tmp_path: Path, sink: Sink) -> None:
    """The organizers' heads-up is one batch of people who are not subscribers."""
    cfg, _, transport, _ = world(tmp_path, sink.url, 0)
    sender = Delivery(cfg, Store(cfg.database_url), signer(), transport=transport)
    campaign = cfg.get_campaign(CAMPAIGN)
    stage = campaign.get_stage(STAGE)
    rendered = sender.composer.render(campaign, stage, YEAR, SubscriberView("", "en", "Asia/Baku"), 0)
    envelope = sender.composer.envelope(campaign, stage, YEAR, rendered, NOW)
    people = [Recipient(None, f"{a}@example.com", "", cfg.sender.public_url) for a in "abc"]
    sink.faults = [Fault(400, body={"errors": [{"message": "nope"}]})]
    results = transport.send_group(Batch(envelope, people, personal=False))
    assert [r.state for r in results] == [State.FAILED] * 3 and "nope" in str(results[0].reason)
    assert [s.addresses() for s in sink.seen] == [["a@example.com", "b@example.com", "c@example.com"]]
    assert all(p["custom_args"] == {"subscriber": "none"} for s in sink.seen for p in s.body["personalizations"])


def test_requests_stay_under_the_size_limit_and_never_repeat_an_address(
    tmp_path: Path, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.transports import sendgrid as sg_module

    cfg, _, transport, _ = world(tmp_path, sink.url, 0)
    sender = Delivery(cfg, Store(cfg.database_url), signer(), transport=transport)
    campaign = cfg.get_campaign(CAMPAIGN)
    stage = campaign.get_stage(STAGE)
    content = sender.composer.group(campaign, stage, YEAR, ("en", "Asia/Baku", True)) or pytest.fail("group rendering")
    proto = sender.composer.envelope(campaign, stage, YEAR, content, NOW)
    people = [Recipient(i, f"p{i}@example.com", f"P {i}", f"https://example.org/u/{i}") for i in range(1, 61)]
    people.append(Recipient(61, "P1@EXAMPLE.COM", "Same Person", "https://example.org/u/61"))
    # A request body may not reach 30 MB; here the limit is lowered to ~8 recipients' worth.
    body_alone = len(transport.build_message_payload(Batch(proto, [], True)).body)
    one = len(transport.build_message_payload(Batch(proto, people[:1], True)).body) - body_alone
    limit = body_alone + 8 * one + 4
    monkeypatch.setattr(sg_module, "MAX_REQUEST_BYTES", limit)
    results = transport.send_group(Batch(proto, people, True))
    assert sorted(r.entry_id for r in results) == list(range(1, 62)) and {r.state for r in results} == {State.SENT}
    assert len(sink.seen) > 6 and not sink.errors
    for seen in sink.seen:
        addrs = [a.lower() for a in seen.addresses()]
        assert len(addrs) == len(set(addrs)), "no address twice in one request"
        assert seen.size < limit and len(seen.addresses()) <= 8
    assert sorted(a.lower() for a in sink.accepted_addresses()) == sorted(r.email.lower() for r in people)


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_claimed_and_unanswered_batches_never_exceed_concurrency(tmp_path: Path, sink: Sink, concurrency: int) -> None:
    """What a SIGKILL could leave unknown is bounded by the concurrency: whenever a
    request arrives, at most ``concurrency`` batches are claimed and unanswered, even
    though with two or more the next claim runs while a batch is handed over."""
    import sqlite3

    cfg, store, transport, _ = world(tmp_path, sink.url, 120, transport=f"batch_size = 5\nconcurrency = {concurrency}")
    path = store.engine.url.database
    unknown_at_arrival: list[int] = []
    handle = sink.handle

    def counting(h: Any) -> None:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            unknown_at_arrival.append(conn.execute("SELECT count(*) FROM ledger WHERE state = 'unknown'").fetchone()[0])
        handle(h)

    sink.handle = counting  # type: ignore[method-assign]
    assert send(cfg, store, transport).counts == {"sent": 120}
    assert max(unknown_at_arrival) <= concurrency * 5, unknown_at_arrival


def test_a_bug_while_building_a_request_gives_its_claim_back(tmp_path: Path, sink: Sink) -> None:
    """An unexpected error between a batch's claim and its handover must not leave the
    batch `unknown`: nothing of it went out, so a corrected run sends it. One batch at a time (SendGrid's
    default concurrency is 2), so the batches sent before it are exactly two."""
    cfg, store, _, clock = world(tmp_path, sink.url, 60, transport="batch_size = 5\nconcurrency = 1")
    calls: list[int] = []

    class Buggy(SendgridTransport):
        def prepare(self, batch: Any) -> Any:
            calls.append(len(batch))
            if len(calls) == 3:
                raise RuntimeError("a bug in building the request")
            return super().prepare(batch)

    transport = Buggy(cfg.transport.sendgrid, sleep=clock.sleep, clock=clock.time)
    with pytest.raises(RuntimeError, match="a bug"):
        send(cfg, store, transport)
    states = Counter(e["state"] for e in store.entries(CAMPAIGN, YEAR, STAGE))
    assert states == {"sent": 10}, "two batches went out; the third was given back"
    assert send(cfg, store, SendgridTransport(cfg.transport.sendgrid, sleep=clock.sleep, clock=clock.time)).counts == {
        "sent": 50
    }
