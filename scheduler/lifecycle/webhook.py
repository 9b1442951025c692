"""SendGrid's Event Webhook (README: Bounces, complaints and suppression): verify a
signed request, then apply its events to the list and the ledger.

:func:`verify` checks the signature with the official library's ``EventWebhook`` helper
over the request body exactly as it arrived: SendGrid signs ``timestamp + body``, so
JSON parsed and written again does not verify. :func:`apply` acts on each event once
(SendGrid retries for 24 hours and may repeat events; ``sg_event_id`` tells them apart):

==================================  ===============================================
event                               what happens
==================================  ===============================================
``bounce``                          the subscriber is ``bounced``
``dropped`` (a bounced,             ``bounced``, ``unsubscribed`` or ``complained``
unsubscribed or spam address)       as the reason says; other drops change nothing
``spamreport``                      ``complained``
``unsubscribe``,                    ``unsubscribed``
``group_unsubscribe``
``delivered``, ``deferred``         the ledger entry's ``delivery``
==================================  ===============================================

``bounce`` and ``dropped`` are written on the ledger entry too. The entry is the one the
event's custom args name (``campaign``, ``year``, ``stage``, ``subscriber``: what every
message carries, README: Transports). An event without them is matched to the
subscriber by its address, lower-cased; an address on no subscriber goes onto the
suppression list as a keyed hash. A malformed event is counted and skipped.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook

from scheduler.content.tokens import Keyring
from scheduler.core.outcomes import Status
from scheduler.errors import SchedulerError
from scheduler.store import Store

#: a signature stamped further ahead of our clock than this is refused too
FUTURE_SKEW = timedelta(minutes=5)
#: event ids are remembered this long: SendGrid retries a request for 24 hours
REMEMBER_EVENTS = timedelta(days=3)
#: the three reasons SendGrid gives for dropping a message to an address on one of its
#: suppression lists (its Event Webhook reference and glossary, "Drops")
DROPPED = {
    "bounced address": Status.BOUNCED,
    "unsubscribed address": Status.UNSUBSCRIBED,
    "spam reporting address": Status.COMPLAINED,
}
SUPPRESSING = {
    "bounce": Status.BOUNCED,
    "spamreport": Status.COMPLAINED,
    "unsubscribe": Status.UNSUBSCRIBED,
    "group_unsubscribe": Status.UNSUBSCRIBED,
}
DELIVERY = {"delivered", "deferred", "bounce", "dropped"}
#: an enhanced status code (RFC 3463): safe to keep, unlike a bounce's free text, which
#: can quote the address and would outlive it on the suppression list
_STATUS_CODE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class WebhookRefused(SchedulerError):
    """A request whose signature or time stamp does not check out (answered 403)."""


class BadKey(SchedulerError):
    """The configured public key does not load (answered 503: nothing can be verified)."""


class NotEvents(SchedulerError):
    """A verified body that is not a JSON array of events (answered 400)."""


@dataclass
class Applied:
    """What one request's events came to."""

    #: subscribers (or addresses) suppressed
    suppressed: int = 0
    #: ledger entries whose delivery was written
    delivery: int = 0
    #: events seen before (a SendGrid retry) and not applied again
    repeated: int = 0
    #: events of a kind that changes nothing here (processed, open, click, ...)
    ignored: int = 0
    #: events that are not what SendGrid sends: counted and skipped
    malformed: int = 0

    def describe(self) -> str:
        return (
            f"{self.suppressed} suppressed, {self.delivery} delivery updates, {self.repeated} repeated, "
            f"{self.ignored} ignored, {self.malformed} malformed"
        )


def verify(
    public_key: str, raw_body: bytes, signature: str, timestamp: str, now: datetime, max_age_seconds: int
) -> None:
    """Raise :class:`WebhookRefused` unless ``signature`` (the
    X-Twilio-Email-Event-Webhook-Signature header) signs ``timestamp + raw_body`` with
    ``public_key``, and ``timestamp`` (X-Twilio-Email-Event-Webhook-Timestamp, Unix
    seconds) is no older than ``max_age_seconds`` (0: any age) nor ahead of ``now``."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRefused(f"the time stamp header is not Unix seconds: {timestamp[:20]!r}")
    signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    if max_age_seconds and now - signed_at > timedelta(seconds=max_age_seconds):
        raise WebhookRefused(
            f"signed at {signed_at:%Y-%m-%d %H:%M:%S} UTC, more than {max_age_seconds} s ago "
            "([web.sendgrid_webhook] max_age_seconds)"
        )
    if signed_at - now > FUTURE_SKEW:
        raise WebhookRefused(f"signed at {signed_at:%Y-%m-%d %H:%M:%S} UTC, ahead of this server's clock")
    try:
        # The helper signs text; a body that is not UTF-8 is not one SendGrid sent, and
        # valid UTF-8 decodes and encodes back to exactly the bytes that arrived.
        payload = raw_body.decode("utf-8")
        base64.b64decode(signature, validate=True)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        raise WebhookRefused("the body is not UTF-8 or the signature is not base64") from None
    helper = EventWebhook()
    try:
        key = helper.convert_public_key_to_ecdsa(public_key)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"[web.sendgrid_webhook] public_key is not a verification key SendGrid shows: {exc}") from None
    try:
        good = helper.verify_signature(payload, signature, timestamp, key)
    except (ValueError, TypeError, AttributeError):
        # A malformed signature (not DER) or a key that is not an elliptic-curve one.
        good = False
    if not good:
        raise WebhookRefused("the signature does not verify with [web.sendgrid_webhook] public_key")


def parse_events(raw_body: bytes) -> list[Any]:
    """The body as a JSON array; :class:`NotEvents` for anything else."""
    import json

    try:
        events = json.loads(raw_body)
    except (ValueError, RecursionError):
        raise NotEvents("the body is not JSON") from None
    if not isinstance(events, list):
        raise NotEvents(f"the body is a JSON {type(events).__name__}, not an array of events")
    return events


def apply(
    store: Store, keyring: Keyring, events: list[Any], now: datetime, *, asm_group_id: int | None = None
) -> Applied:
    """Apply each event once (see the module's table); never raises for an event.
    With ``asm_group_id`` (``[transport.sendgrid]``), a ``group_unsubscribe`` from
    another unsubscribe group (another sender on the same account) changes nothing."""
    done = Applied()
    ids = [e["sg_event_id"] for e in events if isinstance(e, dict) and _text(e.get("sg_event_id"))]
    # Looked up first, recorded only after they are applied: a batch that fails half-way
    # is applied again whole when SendGrid retries it, which changes nothing twice
    # (suppressing and delivery updates are idempotent), instead of being skipped.
    fresh = set(ids) - store.known_events(ids) if ids else set()
    seen_here: set[str] = set()
    for event in events:
        if not isinstance(event, dict) or not _text(event.get("event")) or not _text(event.get("email")):
            done.malformed += 1
            continue
        event_id = event.get("sg_event_id")
        if _text(event_id):
            if event_id not in fresh or event_id in seen_here:
                done.repeated += 1
                continue
            seen_here.add(event_id)
        group = event.get("asm_group_id")
        if event["event"] == "group_unsubscribe" and asm_group_id is not None and group != asm_group_id:
            done.ignored += 1
            continue
        _one(store, keyring, event, now, done)
    if seen_here:
        store.new_events(sorted(seen_here), now, now - REMEMBER_EVENTS)
    return done


def _one(store: Store, keyring: Keyring, event: dict[str, Any], now: datetime, done: Applied) -> None:
    kind = str(event["event"])
    email_key = str(event["email"]).strip().lower()
    if "@" not in email_key or len(email_key) > 320:
        done.malformed += 1
        return
    at = _when(event.get("timestamp"), now)
    entry = _entry(event)
    status = SUPPRESSING.get(kind)
    reason = _reason(kind, event)
    if kind == "dropped":
        status = DROPPED.get(str(event.get("reason", "")).strip().lower())
    written = False
    if kind in DELIVERY and entry is not None:
        written = store.set_delivery(*entry, kind, at)
        done.delivery += written
    if status is None:
        # Nothing to do: an event of another kind, or one for no entry of ours (a test
        # message, another application on the same SendGrid account).
        done.ignored += not written
        return
    sid = entry[3] if entry is not None else _subscriber(event)
    row = store.subscriber(sid) if sid is not None else None
    if row is not None and row["email_key"] == email_key:
        store.opt_out(int(row["id"]), status, reason, now)
    else:
        store.suppress_address(email_key, status, reason, keyring.email_hashes(email_key), now)
    done.suppressed += 1


def _reason(kind: str, event: dict[str, Any]) -> str:
    """What the subscriber's status_reason says. Never the bounce's own text: it can
    quote the address, and for an address on no subscriber the reason is kept beside
    its hash, where the address must not be (README: Privacy)."""
    if kind == "bounce":
        code = str(event.get("status", "")).strip()
        kind = "block" if event.get("type") == "blocked" else "bounce"
        return f"SendGrid {kind}" + (f" {code}" if _STATUS_CODE.match(code) else "")
    if kind == "dropped":
        return f"SendGrid dropped: {str(event.get('reason', '')).strip().lower()}"
    if kind == "group_unsubscribe" and isinstance(event.get("asm_group_id"), int):
        return f"SendGrid group_unsubscribe (group {event['asm_group_id']})"
    return f"SendGrid {kind}"


def _args(event: dict[str, Any]) -> dict[str, Any]:
    # SendGrid puts a message's custom args among the event's own keys; an older
    # integration nests them under "custom_args" or "unique_args".
    for nested in ("custom_args", "unique_args"):
        if isinstance(event.get(nested), dict):
            return {**event[nested], **event}
    return event


def _subscriber(event: dict[str, Any]) -> int | None:
    value = _args(event).get("subscriber")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _entry(event: dict[str, Any]) -> tuple[str, int, str, int] | None:
    """The ledger entry the event's custom args name, or None (a test message, an
    event from another sender on the account, or no custom args at all)."""
    args = _args(event)
    campaign, year, stage = args.get("campaign"), args.get("year"), args.get("stage")
    sid = _subscriber(event)
    if sid is None or not all(isinstance(v, str) and _KEY.match(v) for v in (campaign, year, stage)):
        return None
    if not (str(year).isdigit() and len(str(year)) == 4):
        return None
    return str(campaign), int(str(year)), str(stage), sid


def _when(value: Any, now: datetime) -> datetime:
    """The event's own time (Unix seconds); ``now`` when it has none that makes sense."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 32503680000:
        return datetime.fromtimestamp(value, UTC)
    return now


def _text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 1000
