"""Before a run with the SendGrid transport, SendGrid's suppression lists come into ours:
read page by page by the real ``sendgrid`` client from the loopback sink, which checks
the API key; whoever is on them is not mailed; a sync that fails stops the run with
nobody mailed (exit 3)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sg_sink import Fault, Sink
from sg_world import API_KEY, NOW, make_config, make_store, signer

from scheduler.cli import cli
from scheduler.config import Config
from scheduler.content.tokens import Keyring
from scheduler.delivery.runs import Delivery
from scheduler.delivery.suppressions import OVERLAP, apply_lists
from scheduler.errors import TransportError
from scheduler.store import Store
from scheduler.transports.sendgrid import SendgridTransport
from scheduler.transports.sendgrid_suppressions import read_suppressions

pytestmark = pytest.mark.usefixtures("sendgrid_env")

CAMPAIGN, STAGE, YEAR = "black-january", "reminder", 2027
T0 = 1_767_000_000  # 2025-12-29: when SendGrid listed the first entry
LISTS = ["unsubscribes", "bounces", "blocks", "spam_reports", "invalid_emails"]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _world(tmp_path: Path, sink: Sink, n: int, extra: str = "") -> tuple[Config, Store]:
    sink.api_key = API_KEY
    cfg = make_config(
        tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"\ntimeout_seconds = 2\nmax_retries = 2\n{extra}'
    )
    return cfg, make_store(cfg, n)


def _transport(cfg: Config, sleeps: Sleeps | None = None) -> SendgridTransport:
    return SendgridTransport(cfg.transport.sendgrid, sleep=sleeps if sleeps is not None else Sleeps())


def _row(email: str, n: int, **more: Any) -> dict[str, Any]:
    return {"email": email, "created": T0 + n, **more}


def _statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    return {r["email"]: (r["status"], r["status_reason"]) for r in store.iter_subscribers()}


def test_lists_are_read_page_by_page_with_the_key(tmp_path: Path, sink: Sink) -> None:
    cfg, _ = _world(tmp_path, sink, 0)
    sink.suppressions["bounces"] = [_row(f"gone{i}@example.net", i, reason="550", status="5.1.1") for i in range(1234)]
    sink.suppressions["spam_reports"] = [_row("angry@example.net", 7, ip="192.0.2.1")]
    lists = read_suppressions(_transport(cfg))
    assert {k: len(v) for k, v in lists.items()} == {
        "unsubscribes": 0,
        "bounces": 1234,
        "blocks": 0,
        "spam_reports": 1,
        "invalid_emails": 0,
    }
    assert len({e.email for e in lists["bounces"]}) == 1234 and lists["bounces"][0].status == "5.1.1"
    pages = [(path, q["limit"], q["offset"]) for path, q, _ in sink.gets if path.endswith("/bounces")]
    assert pages == [("/v3/suppression/bounces", ["500"], [str(o)]) for o in (0, 500, 1000)]
    assert len(sink.gets) == 3 + 4 and {auth for _, _, auth in sink.gets} == {f"Bearer {API_KEY}"}
    assert sink.seen == [], "reading sends nothing"


def test_a_list_read_since_a_time_asks_sendgrid_for_start_time(tmp_path: Path, sink: Sink) -> None:
    cfg, _ = _world(tmp_path, sink, 0)
    sink.suppressions["unsubscribes"] = [_row(f"u{i}@example.net", i * 100) for i in range(10)]
    lists = read_suppressions(_transport(cfg), {"unsubscribes": T0 + 550})
    assert sorted(e.email for e in lists["unsubscribes"]) == [
        "u6@example.net",
        "u7@example.net",
        "u8@example.net",
        "u9@example.net",
    ]
    asked = [q for path, q, _ in sink.gets if path.endswith("/unsubscribes")]
    assert asked == [{"limit": ["500"], "offset": ["0"], "start_time": [str(T0 + 550)]}]


def test_a_run_mails_nobody_on_sendgrids_lists(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 9)
    # person0, 3 and 6 live in Baku, whose reminder is due at NOW.
    sink.suppressions["bounces"] = [
        _row("Person3@Example.com", 1, reason="550 5.1.1 <person3@example.com>", status="5.1.1")
    ]
    sink.suppressions["spam_reports"] = [_row("person1@example.com", 2)]
    sink.suppressions["unsubscribes"] = [_row("person4@example.com", 3), _row("person5@example.com", 4)]
    sink.suppressions["blocks"] = [_row("person5@example.com", 5, reason="blocked", status="4.7.1")]
    sink.suppressions["invalid_emails"] = [
        _row("stranger@example.org", 6, reason="Mail domain mentioned in email address is unknown")
    ]
    results = Delivery(cfg, store, signer(), transport=_transport(cfg)).run_due(NOW)
    assert [r.describe() for r in results] == ["black-january 2027 reminder (Asia/Baku): sent 2"]
    assert sorted(sink.accepted_addresses()) == ["person0@example.com", "person6@example.com"]
    statuses = _statuses(store)
    assert {e: s for e, s in statuses.items() if s[0] != "active"} == {
        "person1@example.com": ("complained", "SendGrid spam report"),
        "person3@example.com": ("bounced", "SendGrid bounce 5.1.1"),
        "person4@example.com": ("unsubscribed", "SendGrid global unsubscribe"),
        "person5@example.com": ("bounced", "SendGrid block 4.7.1"),
    }
    keyring = Keyring.from_config(cfg)
    assert store.suppressed(keyring.email_hashes("stranger@example.org")) == {
        keyring.email_hashes("stranger@example.org")[0]
    }


def test_one_sync_per_run_and_the_next_run_reads_only_what_is_new(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 9)
    sink.suppressions["bounces"] = [_row("person8@example.com", 50)]
    sender = Delivery(cfg, store, signer(), transport=_transport(cfg))
    sender.send_stage(CAMPAIGN, STAGE, YEAR, NOW, zones=["Asia/Baku"])
    sender.send_stage(CAMPAIGN, "day-of", YEAR, NOW, zones=["Asia/Baku"])
    assert len(sink.gets) == 5, "both stages of one run: one read of each list"
    later = NOW + timedelta(hours=3)
    sender.send_stage(CAMPAIGN, STAGE, YEAR, later)
    second = {path.rsplit("/", 1)[1]: q.get("start_time") for path, q, _ in sink.gets[5:]}
    assert second == {name: [str(T0 + 50 - OVERLAP)] if name == "bounces" else None for name in LISTS}
    assert "person8@example.com" not in sink.accepted_addresses()


def test_syncing_the_same_lists_again_writes_nothing(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 3)
    sink.suppressions["bounces"] = [_row("person0@example.com", 1), _row("x@example.org", 2)]
    lists = read_suppressions(_transport(cfg))
    keyring = Keyring.from_config(cfg)
    first = apply_lists(store, keyring, lists, NOW)
    again = apply_lists(store, keyring, lists, NOW + timedelta(hours=1))
    assert (first.subscribers, first.hashes, again.subscribers, again.hashes) == (1, 1, 0, 0)
    assert _statuses(store)["person0@example.com"] == ("bounced", "SendGrid bounce")


def test_a_bounce_outranks_an_unsubscribe_whichever_list_says_it(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 3)
    keyring = Keyring.from_config(cfg)
    store.opt_out(store.subscriber_id_for("person1@example.com") or 0, _status("bounced"), "by hand: 550", NOW)
    store.opt_out(store.subscriber_id_for("person2@example.com") or 0, _status("unsubscribed"), "one-click", NOW)
    sink.suppressions["unsubscribes"] = [_row(f"person{i}@example.com", i) for i in range(3)]
    sink.suppressions["bounces"] = [_row("person0@example.com", 9), _row("person2@example.com", 9)]
    apply_lists(store, keyring, read_suppressions(_transport(cfg)), NOW)
    assert _statuses(store) == {
        "person0@example.com": ("bounced", "SendGrid bounce"),
        "person1@example.com": ("bounced", "by hand: 550"),
        "person2@example.com": ("bounced", "SendGrid bounce"),
    }


def _status(value: str) -> Any:
    from scheduler.core.outcomes import Status

    return Status(value)


def test_many_addresses_are_matched_in_one_pass_over_the_list(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 50)
    sink.suppressions["bounces"] = [_row(f"person{i}@example.com", i) for i in range(0, 50, 2)] + [
        _row(f"other{i}@example.org", i) for i in range(2500)
    ]
    report = apply_lists(store, Keyring.from_config(cfg), read_suppressions(_transport(cfg)), NOW)
    assert (report.subscribers, report.hashes, report.read["bounces"]) == (25, 2500, 2525)
    assert sorted(e for e, s in _statuses(store).items() if s[0] == "bounced") == sorted(
        f"person{i}@example.com" for i in range(0, 50, 2)
    )


# -- when the sync fails --------------------------------------------------------------


@pytest.mark.parametrize("code", [401, 403])
def test_a_key_that_cannot_read_suppressions_stops_the_run_before_anyone_is_mailed(
    tmp_path: Path, sink: Sink, code: int
) -> None:
    cfg, store = _world(tmp_path, sink, 9)
    sink.get_faults = [Fault(code, body={"errors": [{"field": None, "message": "access forbidden"}]})]
    with pytest.raises(TransportError) as caught:
        Delivery(cfg, store, signer(), transport=_transport(cfg)).run_due(NOW)
    assert caught.value.fatal and caught.value.exit_code == 3
    assert str(caught.value) == (
        f"could not read SendGrid's unsubscribes list at {sink.url}/v3/suppression/unsubscribes: {code} access forbidden; "
        "the key in $SENDGRID_API_KEY needs the Suppressions read permission, or set [transport.sendgrid] "
        "sync_suppressions = false; stopped before sending, nothing was sent"
    )
    assert sink.seen == [] and store.entries(CAMPAIGN, YEAR) == []


def test_a_wrong_key_through_the_cli_is_one_line_and_exit_3(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 4)
    sink.api_key = "SG.the-right-key-is-another"
    res = CliRunner().invoke(
        cli, ["run-due", "--now", "2027-01-13T06:00:00Z", "--force-clock", "--config", str(cfg.path)]
    )
    assert res.exit_code == 3
    assert [line for line in res.output.splitlines() if line.startswith("Error:")] == [
        f"Error: could not read SendGrid's unsubscribes list at {sink.url}/v3/suppression/unsubscribes: "
        "401 authorization required; the key in $SENDGRID_API_KEY needs the Suppressions read permission, "
        "or set [transport.sendgrid] sync_suppressions = false; stopped before sending, nothing was sent"
    ]
    assert API_KEY not in res.output and sink.seen == [] and store.entries(CAMPAIGN, YEAR) == []


def test_an_unreachable_sendgrid_is_retried_then_stops_the_run(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 9)
    sink.get_faults = [Fault(refuse=True)] * 3
    sleeps = Sleeps()
    with pytest.raises(TransportError) as caught:
        Delivery(cfg, store, signer(), transport=_transport(cfg, sleeps)).run_due(NOW)
    assert caught.value.fatal and "to read its unsubscribes list" in str(caught.value)
    assert str(caught.value).endswith("(gave up after 3 attempts); stopped before sending, nothing was sent")
    assert len(sleeps) == 2 and sink.seen == [] and store.entries(CAMPAIGN, YEAR) == []


def test_a_429_or_500_on_a_page_is_retried_and_the_run_goes_on(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 9)
    sink.suppressions["bounces"] = [_row("person3@example.com", 1)]
    sink.get_faults = [Fault(200), Fault(429, headers={"X-RateLimit-Reset": "0"}), Fault(500)]
    sleeps = Sleeps()
    results = Delivery(cfg, store, signer(), transport=_transport(cfg, sleeps)).run_due(NOW)
    assert len(sleeps) == 2 and results[0].counts == {"sent": 2}
    assert sorted(sink.accepted_addresses()) == ["person0@example.com", "person6@example.com"]


def test_a_list_that_is_not_json_stops_the_run(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 9)
    sink.get_faults = [Fault(200), Fault(200, body={"errors": "not a list"})]
    with pytest.raises(TransportError) as caught:
        Delivery(cfg, store, signer(), transport=_transport(cfg)).run_due(NOW)
    assert str(caught.value) == (
        f"SendGrid's bounces list at {sink.url}/v3/suppression/bounces answered 200 with something other than "
        "a JSON array; stopped before sending, nothing was sent"
    )
    assert sink.seen == []


def test_sync_suppressions_false_reads_nothing(tmp_path: Path, sink: Sink) -> None:
    cfg, store = _world(tmp_path, sink, 9, "sync_suppressions = false")
    sink.suppressions["bounces"] = [_row("person3@example.com", 1)]
    Delivery(cfg, store, signer(), transport=_transport(cfg)).run_due(NOW)
    assert sink.gets == [] and "person3@example.com" in sink.accepted_addresses()
