"""SendGrid, through the official ``sendgrid`` library: one ``/v3/mail/send`` request per
batch of recipients who share a content, with per-recipient substitutions.

Every answer becomes a ledger state (README: Transports):

* 2xx: sent, with the ``X-Message-Id`` (one per request; SendGrid suffixes it per
  recipient in its events).
* 429: wait until ``X-RateLimit-Reset`` (or back off with jitter), retry.
* 5xx, and failures to connect or to hand over the body: back off, retry up to
  ``max_retries``, then failed. Before the whole body is written the server cannot have
  accepted the request, so a retry cannot send twice.
* 400/413 and other 4xx: failed with SendGrid's own error message, no retry.
* 401/403: a fatal TransportError; the run stops and the batch's claims are released.
* The body was sent but the answer was lost (timed out, connection dropped): ``unknown``,
  never retried, because SendGrid may have accepted it. ``anniversary status`` lists them.

The API key is read from the environment variable the config names, is never logged
(the library logs its headers at DEBUG: see :func:`_quiet_library`) and never appears in
a message this module writes.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import operator
import os
import random
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from scheduler.content.groups import Batch, Recipient
from scheduler.core.outcomes import Result, State
from scheduler.core.values import DISPLAY_NAME_LIMIT, header_safe
from scheduler.errors import MissingSecret, TransportError
from scheduler.transports.base import Settings, Transport, answers_kept
from scheduler.transports.sendgrid_json import MAX_PERSONAL_BYTES, attachments, personal_subject, personalization

log = logging.getLogger("scheduler.transports.sendgrid")

#: documented in SendGrid's v3 Mail Send reference; the schema does not enforce them
MAX_PERSONALIZATIONS = 1000
MAX_REQUEST_BYTES = 30 * 1024 * 1024  # "less than 30MB"
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
#: a wrong or hostile X-RateLimit-Reset must not park the run for hours
MAX_RATE_WAIT = 120.0
_REASON_MAX = 500
#: what makes the client send a str body as it is (SendGrid's C# client sends this)
JSON_TEXT = {"Content-Type": "application/json; charset=utf-8"}
TOO_BIG = f"substitutions and custom_args exceed SendGrid's {MAX_PERSONAL_BYTES} bytes per recipient"


def _quiet_library() -> None:
    """python_http_client logs the Authorization header at DEBUG. Besides the level
    scheduler.logs sets, a filter drops its records below WARNING even when a caller
    (pytest's caplog, a -vv run) lowers the level again."""
    for name in ("python_http_client", "python_http_client.client"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, _BelowWarning) for f in logger.filters):
            logger.addFilter(_BelowWarning())


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


class SendgridSettings(Settings):
    """``[transport.sendgrid]``"""

    api_key_env: str = "SENDGRID_API_KEY"
    host: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] = "https://api.sendgrid.com"
    sandbox_mode: bool = False
    asm_group_id: int | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_retries: Annotated[int, Field(ge=0, le=20)] = 5
    #: read SendGrid's suppression lists before each run (README: Bounces, complaints
    #: and suppression); the key then needs the Suppressions read permission too
    sync_suppressions: bool = True


@dataclass(frozen=True)
class Outcome:
    """What one request came to, for every personalization it carried."""

    state: State
    message_id: str | None = None
    reason: str | None = None


class _EncodedBody(bytes):
    """A request body that prints as its size, not its content."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} bytes of JSON>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


class JsonBody(str):
    """A request body as JSON text. python-http-client formats the whole body into a
    DEBUG line (``'PAYLOAD: {data}'.format(...)``) before the logger can say no, even
    with DEBUG off: at 1,000 personalizations that is 1.3 ms of every request, and a
    string holding every recipient's address and name. Encoded, this body prints as
    its size instead: personal data never reaches a log."""

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return _EncodedBody(str.encode(self, encoding, errors))


@dataclass
class Payload:
    #: the request body, JSON text
    body: str
    recipients: list[Recipient]
    #: recipients failed before sending, with why (a personalization over the size limit)
    early: list[tuple[Recipient, str]]
    #: recipients that did not fit under 30 MB: the next request carries them
    rest: list[Recipient]
    #: each recipient's ledger entry (Batch.entry_of of the batch sent)
    entry_of: Callable[[Recipient], int] = lambda r: r.entry_id or 0


#: a Result from a 4-tuple without the NamedTuple constructor's Python frame: one is
#: made per recipient (BENCHMARKS.md)
_result = functools.partial(tuple.__new__, Result)
_EMAIL = operator.attrgetter("email")


class SendgridTransport(Transport):
    name = "sendgrid"
    settings_model = SendgridSettings
    max_batch = MAX_PERSONALIZATIONS
    groups_content = True

    def __init__(
        self,
        settings: SendgridSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        sg = settings
        key = os.environ.get(sg.api_key_env, "").strip()
        if not key:
            raise MissingSecret(sg.api_key_env, "transport.sendgrid.api_key_env")
        _quiet_library()
        self.settings = sg
        self.timeout = sg.timeout_seconds
        self.max_retries = sg.max_retries
        self.sleep, self.clock = sleep, clock
        self.rng = rng or random.Random()
        self.client = SendGridAPIClient(api_key=key, host=sg.host.rstrip("/"))
        # The library's default is to wait forever.
        self.client.client.timeout = self.timeout
        del key

    @classmethod
    def from_config(cls, options: Any, base_dir: Path) -> SendgridTransport:
        return cls(options.sendgrid)

    def __repr__(self) -> str:
        return f"SendgridTransport(host={self.settings.host!r}, key=<hidden>)"

    # -- the pipeline ------------------------------------------------------------------

    def prepare(self, batch: Batch) -> list[Payload]:
        """Every request body for ``batch``, built while the ledger claims it: a body
        names recipients by subscriber, so it needs no entry ids (BENCHMARKS.md)."""
        payloads: list[Payload] = []
        for part in self._split(batch):
            todo: Batch | None = part
            while todo is not None:
                payload = self.build_message_payload(todo)
                payloads.append(payload)
                todo = Batch(todo.envelope, payload.rest, todo.personal, todo.entries) if payload.rest else None
        return payloads

    def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """``prepared`` (from :meth:`prepare`, on the same recipients before their claim)
        is sent as it is, with each recipient's entry id taken from ``batch``."""
        payloads: list[Payload] = self.prepare(batch) if prepared is None else prepared
        results: list[Result] = []
        # 401/403 after an earlier request of this batch went out: that one is recorded.
        with answers_kept(results):
            for payload in payloads:
                payload.entry_of = batch.entry_of
                results.extend(Result(batch.entry_of(r), State.FAILED, None, why) for r, why in payload.early)
                if payload.recipients:
                    response = self.post_to_esp(payload, batch)
                    results.extend(self.parse_recipient_status(response, payload))
        return results

    def _split(self, batch: Batch) -> list[Batch]:
        """At most 1,000 personalizations and no address twice per request."""
        people = batch.recipients
        if len(people) <= MAX_PERSONALIZATIONS and len(set(map(str.lower, map(_EMAIL, people)))) == len(people):
            return [batch]  # the rule: subscribers' addresses are unique without case
        parts: list[Batch] = []
        rest = list(people)
        while rest:
            seen: set[str] = set()
            take: list[Recipient] = []
            later: list[Recipient] = []
            for r in rest:
                addr = r.email.lower()
                if addr in seen or len(take) >= MAX_PERSONALIZATIONS:
                    later.append(r)
                else:
                    seen.add(addr)
                    take.append(r)
            parts.append(Batch(batch.envelope, take, batch.personal, batch.entries))
            rest = later
        return parts

    def build_message_payload(self, messages: Batch) -> Payload:
        """The request body as JSON text, written here rather than by the client's
        ``json.dumps`` of a dict: the text of each personalization is what its size
        limits are checked on, and at a million recipients the dicts and the second
        encoding cost more than the rest of building the request (BENCHMARKS.md).
        ``ensure_ascii`` throughout, so characters and bytes are the same count."""
        batch = messages
        env = batch.envelope
        shared_headers = {k: v for k, v in env.headers().items() if not k.startswith("List-Unsubscribe")}
        shared_headers["Content-Language"] = env.rendered.language
        body: dict[str, Any] = {
            # Header values, as message.to_email_message makes them (README: Transports).
            "from": {"email": env.from_email, "name": header_safe(env.from_name, DISPLAY_NAME_LIMIT)},
            "subject": header_safe(env.subject),
            "content": [
                {"type": "text/plain", "value": env.rendered.text},
                {"type": "text/html", "value": env.rendered.html},
            ],
            "headers": shared_headers,
            # No personal data here: campaign, year and stage only (README: Transports).
            # With each personalization's "subscriber" they name its ledger entry.
            "categories": [f"{env.campaign}/{env.stage}"],
            "custom_args": {"campaign": env.campaign, "year": str(env.year), "stage": env.stage},
            # Click tracking would rewrite the unsubscribe link (RFC 8058 wants ours).
            "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False}},
        }
        if env.calendar is not None:
            # The group's invitation, in the part every personalization shares: once a request.
            body["attachments"] = attachments(env.calendar)
        if env.reply_to:
            body["reply_to"] = {"email": env.reply_to}
        if self.settings.sandbox_mode:
            body["mail_settings"] = {"sandbox_mode": {"enable": True}}
        if self.settings.asm_group_id is not None:
            body["asm"] = {"group_id": self.settings.asm_group_id}
        head = json.dumps(body, separators=(",", ":"))[:-1] + ',"personalizations":['
        parts: list[str] = []
        recipients: list[Recipient] = []
        early: list[tuple[Recipient, str]] = []
        rest: list[Recipient] = []
        size = len(head) + 2
        tail = f">, <mailto:{env.unsubscribe_mailto}?subject=unsubscribe>"
        personal, is_test = batch.personal, env.is_test
        # A subject with the name in it is filled per personalization, never by SendGrid.
        subject = personal_subject(env.subject, personal)
        for i, r in enumerate(batch.recipients):
            part = personalization(r, tail, personal, is_test, subject)
            if part is None:
                early.append((r, TOO_BIG))
                continue
            if size + len(part) + 1 >= MAX_REQUEST_BYTES and recipients:
                # Under 30 MB per request: the rest go in the next request.
                rest = list(batch.recipients[i:])
                break
            size += len(part) + 1
            parts.append(part)
            recipients.append(r)
        return Payload(JsonBody(head + ",".join(parts) + "]}"), recipients, early, rest)

    def post_to_esp(self, payload: Payload, messages: Batch) -> Outcome:
        attempt = 0
        while True:
            try:
                # A JSON text body: the client sends it as it is, with this header
                # (the default "application/json" would make it json.dumps it again).
                response = self.client.client.mail.send.post(
                    request_body=payload.body, request_headers=JSON_TEXT, timeout=self.timeout
                )
            except HTTPError as err:
                code = int(err.status_code)
                if code in (401, 403):
                    raise TransportError(
                        f"SendGrid refused the API key from ${self.settings.api_key_env} "
                        f"({code} {_error_text(err)}); stopped before sending more. Check the key and its "
                        "Mail Send permission, then run again.",
                        fatal=True,
                    ) from None
                retryable = code == 429 or code >= 500
                if not retryable or attempt >= self.max_retries:
                    what = f"SendGrid {code}: {_error_text(err)}"
                    if retryable:
                        what += f" (gave up after {attempt + 1} attempts)"
                    return Outcome(State.FAILED, reason=what[:_REASON_MAX])
                wait = self._rate_wait(err) if code == 429 else None
                self._pause(attempt, wait, f"SendGrid answered {code}")
            except urllib.error.URLError as err:
                # Raised while connecting or writing the body (urllib wraps only those):
                # SendGrid cannot have accepted an incomplete request, so retrying is safe.
                if attempt >= self.max_retries:
                    # An unreachable server stops the run: failing every subscriber one
                    # by one would use them up; their claims are given back instead.
                    raise TransportError(
                        f"could not reach SendGrid at {self.settings.host}: {err.reason} "
                        f"(gave up after {attempt + 1} attempts); stopped, nothing more was sent",
                        fatal=True,
                    ) from None
                self._pause(attempt, None, f"could not reach SendGrid ({err.reason})")
            except (OSError, http.client.HTTPException) as err:
                # The whole request was written; the answer never came (timeout, dropped
                # connection). SendGrid may have accepted it: never resend automatically.
                return Outcome(
                    State.UNKNOWN,
                    reason=f"request sent but SendGrid's answer was lost ({type(err).__name__}: {err}); "
                    "may have been delivered, not resent automatically"[:_REASON_MAX],
                )
            else:
                if 200 <= response.status_code < 300:
                    return Outcome(State.SENT, message_id=_header(response.headers, "X-Message-Id"))
                return Outcome(State.FAILED, reason=f"SendGrid answered {response.status_code}")
            attempt += 1

    def parse_recipient_status(self, response: Outcome, messages: Payload) -> list[Result]:
        # One answer for the whole request: the same state and X-Message-Id for each.
        answer = (response.state, response.message_id, response.reason)
        return [_result((e, *answer)) for e in map(messages.entry_of, messages.recipients)]

    # -- waiting -----------------------------------------------------------------------

    def _rate_wait(self, err: HTTPError) -> float | None:
        reset = _header(getattr(err, "headers", None), "X-RateLimit-Reset")
        if not reset:
            return None
        try:
            # SendGrid sends the Unix time at which the limit resets.
            wait = float(reset) - self.clock()
        except ValueError:
            return None
        return min(max(wait, 0.0) + self.rng.uniform(0, 0.25), MAX_RATE_WAIT)

    def _pause(self, attempt: int, wait: float | None, why: str) -> None:
        if wait is None:
            # Exponential backoff with "equal jitter": half fixed, half random.
            ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
            wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        log.warning("%s; retrying in %.1f s (attempt %d of %d)", why, wait, attempt + 2, self.max_retries + 1)
        self.sleep(wait)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return str(value) if value is not None else None


def _error_text(err: HTTPError) -> str:
    """SendGrid's own messages from ``{"errors": [{"message", "field"}]}``."""
    try:
        data = json.loads(err.body.decode("utf-8", "replace") if isinstance(err.body, bytes) else err.body)
        parts = []
        for e in data.get("errors", []):
            text = str(e.get("message", "")).strip()
            if e.get("field"):
                text += f" (field {e['field']})"
            parts.append(text)
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError, TypeError):
        pass
    return str(getattr(err, "reason", "") or "no error message")
