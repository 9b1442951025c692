"""The shared transport pipeline: ``build_message_payload`` -> ``post_to_esp`` ->
``parse_recipient_status``, as in django-anymail. Each transport fills in the three
steps; :meth:`Transport.send_batch` runs them and guarantees one result per message.

A :class:`Batch` is many recipients of one rendered content (issue 3, section 1): the
content may carry sentinel tokens that each recipient's own name and unsubscribe link
replace. SendGrid hands the sentinels to its substitutions, one request per batch;
per-message transports (outbox, SMTP) expand the batch into one :class:`Outgoing` each.

A feature a transport cannot carry raises :func:`unsupported_feature`; nothing is
dropped silently.
"""

from __future__ import annotations

import dataclasses
import html
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from scheduler.errors import TransportError, UnsupportedFeature
from scheduler.message import Outgoing, make_message_id
from scheduler.models import State
from scheduler.render import Rendered
from scheduler.store import Result

# Sentinels a content group is rendered with. The text and HTML parts get different
# tokens because their values differ (the HTML one is escaped). None is a substring of
# another, so SendGrid's substitution order cannot matter.
NAME_TEXT = "%anv-name-t%"
NAME_HTML = "%anv-name-h%"
UNSUB_TEXT = "%anv-unsub-t%"
UNSUB_HTML = "%anv-unsub-h%"
SENTINELS = (NAME_TEXT, NAME_HTML, UNSUB_TEXT, UNSUB_HTML)


class FatalAfter(TransportError):
    """A fatal error part-way through a batch: ``done`` holds the answers for what went
    out first, so only the rest of the batch's claims are released."""

    def __init__(self, message: str, done: list[Result]) -> None:
        super().__init__(message, fatal=True)
        self.done = done


@contextmanager
def answers_kept(done: list[Result]) -> Iterator[None]:
    """Around a batch's sends: a fatal TransportError (a refused key, a failed login)
    after some of them went out becomes a FatalAfter carrying their answers in ``done``
    (and those of any FatalAfter from within), so only the rest of the batch's claims
    are released."""
    try:
        yield
    except FatalAfter as exc:
        raise FatalAfter(str(exc), done + exc.done) from None
    except TransportError as exc:
        if exc.fatal and done:
            raise FatalAfter(str(exc), done) from None
        raise


def unsupported_feature(transport: str, feature: str) -> UnsupportedFeature:
    return UnsupportedFeature(f"the {transport} transport cannot carry {feature}")


def clean_name(name: str) -> str:
    """One line (a CR/LF in a name must never start a header or a new paragraph), and no
    sentinel text, so a name cannot smuggle in another recipient's substitution.
    ``str.split()`` splits on the same Unicode whitespace as ``\\s``, at a tenth of the
    cost of message.one_line's regex (issue 3 benchmark)."""
    if "%anv-" in name:
        for token in SENTINELS:
            name = name.replace(token, "")
    return " ".join(name.split())


def html_value(value: str) -> str:
    """``html.escape`` for the rare value that needs it (returns ``value`` itself when
    nothing needs escaping, so callers may compare with ``is``). Five ``in`` tests are
    half the cost of a regex search, twice per recipient (issue 3 benchmark)."""
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
        return html.escape(value)
    return value


class Recipient(NamedTuple):
    """One recipient of a batch; a tuple because a send makes one per subscriber."""

    entry_id: int | None
    email: str
    name: str
    unsubscribe_url: str
    #: per-message transports need one; made on expansion when None
    message_id: str | None = None
    #: ``name`` already went through :func:`clean_name`
    clean: bool = False
    #: the subscriber, which with the campaign, year and stage names the ledger entry;
    #: None for a message to someone who is not a subscriber (send-test, heads-up)
    subscriber_id: int | None = None

    @staticmethod
    def of(m: Outgoing) -> Recipient:
        return Recipient(m.entry_id, m.to_email, m.to_name, m.unsubscribe_url, m.message_id)

    def tag(self, is_test: bool = False) -> str:
        """What names this recipient's ledger entry beside the campaign, year and stage:
        the subscriber's id, or what the message is when it has no entry."""
        if self.subscriber_id is not None:
            return str(self.subscriber_id)
        return "test" if is_test else "none"

    def substitutions(self) -> dict[str, str]:
        name = self.name if self.clean else clean_name(self.name)
        url = self.unsubscribe_url
        subs = {NAME_TEXT: name, NAME_HTML: html_value(name), UNSUB_TEXT: url}
        url_html = html_value(url)
        if url_html is not url:
            # Only then does the HTML part carry its own link token (see
            # Renderer.group_content): a link from a plain base URL needs no escaping.
            subs[UNSUB_HTML] = url_html
        return subs


@dataclass(frozen=True)
class Batch:
    """Recipients of one content. ``proto`` holds everything they share; its recipient
    fields are ignored. When ``personal`` is set, ``proto.rendered`` carries the
    sentinels above and each recipient fills them in."""

    proto: Outgoing
    recipients: Sequence[Recipient]
    personal: bool = True
    #: {subscriber id: entry id} from the claim, for recipients made before it
    #: (``Recipient.entry_id`` 0); None when each recipient carries its own
    entries: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.recipients)

    def entry_of(self, r: Recipient) -> int:
        """The ledger entry of one of this batch's recipients (0 for none)."""
        if self.entries is not None and r.subscriber_id is not None:
            return self.entries[r.subscriber_id]
        return r.entry_id or 0

    def entry_ids(self) -> list[int]:
        return [e for e in map(self.entry_of, self.recipients) if e]

    def claimed(self, won: dict[int, int]) -> Batch:
        """This batch after a claim that won ``won`` ({subscriber id: entry id}): the
        recipients it won, in order, their entries looked up by subscriber. The same
        recipients when it won them all (the rule), so what the transport prepared
        for them still holds (issue 3 benchmark: no object made per recipient)."""
        people = self.recipients
        if len(won) < len(people):
            people = [r for r in people if r.subscriber_id in won]
        return Batch(self.proto, people, self.personal, won)

    def fill(self, recipient: Recipient) -> Rendered:
        content = self.proto.rendered
        if not self.personal:
            return content
        subs = recipient.substitutions()
        subject, text, body = content.subject, content.text, content.html
        for token, value in subs.items():
            subject = subject.replace(token, value)
            text = text.replace(token, value)
            body = body.replace(token, value)
        return Rendered(subject=subject, text=text, html=body, language=content.language)

    def messages(self) -> list[Outgoing]:
        """One message per recipient, for transports that send each on its own."""
        proto = self.proto
        domain = proto.from_email.rsplit("@", 1)[-1]
        out = []
        for r in self.recipients:
            entry_id = self.entry_of(r) or None
            entry: int | str = entry_id if entry_id is not None else "test"
            out.append(
                dataclasses.replace(
                    proto,
                    entry_id=entry_id,
                    to_email=r.email,
                    to_name=r.name,
                    unsubscribe_url=r.unsubscribe_url,
                    message_id=r.message_id or make_message_id(proto.campaign, proto.year, proto.stage, entry, domain),
                    rendered=self.fill(r),
                )
            )
        return out

    @staticmethod
    def content_key(m: Outgoing) -> tuple[Any, ...]:
        """Messages with equal keys can share one request: all but the recipient."""
        return (
            m.rendered,
            m.is_test,
            m.from_email,
            m.from_name,
            m.reply_to,
            m.campaign,
            m.year,
            m.stage,
            m.date,
            tuple(sorted(m.extra_headers.items())),
            m.unsubscribe_mailto,
        )

    @staticmethod
    def from_messages(messages: Sequence[Outgoing]) -> list[Batch]:
        """Group finished messages by identical content (no sentinels to fill)."""
        groups: dict[tuple[Any, ...], list[Outgoing]] = {}
        for m in messages:
            groups.setdefault(Batch.content_key(m), []).append(m)
        return [Batch(group[0], [Recipient.of(m) for m in group], personal=False) for group in groups.values()]


class Transport(ABC):
    #: stored in the ledger beside each entry
    name: str = "base"
    #: how many messages one post_to_esp call should carry at most
    max_batch: int = 100
    #: sends a whole content group per request (claims are then ordered by group)
    groups_content: bool = False

    def open(self) -> None:
        """Acquire connections before the first batch (SMTP logs in here)."""

    def close(self) -> None:
        """Release connections after the last batch."""

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def build_message_payload(self, messages: Any) -> Any: ...

    @abstractmethod
    def post_to_esp(self, payload: Any, messages: Any) -> Any: ...

    @abstractmethod
    def parse_recipient_status(self, response: Any, messages: Any) -> list[Result]: ...

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Result]:
        """One result per message, in order. A fatal TransportError propagates, and the
        caller releases the batch's claims (nothing was sent)."""
        if not messages:
            return []
        payload = self.build_message_payload(messages)
        response = self.post_to_esp(payload, messages)
        results = self.parse_recipient_status(response, messages)
        if len(results) != len(messages):
            raise TransportError(f"{self.name} returned {len(results)} results for {len(messages)} messages")
        return results

    def prepare(self, batch: Batch) -> Any:
        """Work on ``batch`` that needs no entry ids, done while the ledger claims it
        (issue 3 benchmark): passed back to :meth:`send_group` when every recipient was
        won. None when the transport has nothing to do ahead."""
        return None

    def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """One result per recipient of ``batch``, in order. Per-message transports send
        each expanded message; SendGrid overrides this with one request."""
        return self.send_batch(batch.messages())

    @staticmethod
    def failed_all(messages: Sequence[Outgoing], reason: str, state: State = State.FAILED) -> list[Result]:
        return [Result(m.entry_id or 0, state, None, reason) for m in messages]

    @staticmethod
    def all_of(batch: Batch, state: State, message_id: str | None = None, reason: str | None = None) -> list[Result]:
        return [Result(e, state, message_id, reason) for e in map(batch.entry_of, batch.recipients)]


class RateLimiter:
    """Messages per second across all worker threads (issue 3, section 4). Each caller
    reserves its slot under the lock and sleeps outside it, so the long-run rate is
    ``rate`` however many threads send. ``rate`` 0 means unlimited."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, n: int = 1) -> float:
        """Wait until ``n`` messages may go; returns the seconds waited."""
        if self.rate <= 0 or n <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(self._next, now)
            self._next = start + n / self.rate
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)
