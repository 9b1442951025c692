"""The shared transport pipeline: ``build_message_payload`` -> ``post_to_esp`` ->
``parse_recipient_status``, as in django-anymail. Each transport fills in the three
steps; :meth:`Transport.send_batch` runs them and guarantees one result per message.

The send pipeline hands a transport one :class:`~scheduler.content.groups.Batch` at a
time through :meth:`Transport.send_group`: many recipients of one content, whose
placeholders each recipient's own name and link fill in. SendGrid hands them to its
substitutions, one request per batch; per-message transports (outbox, SMTP) expand the
batch into one message each.

Adding a provider is one module here, with its ``Settings`` (its ``[transport.<kind>]``
table) beside it, and one entry in :data:`scheduler.transports.REGISTRY`.

A feature a transport cannot carry raises :func:`unsupported_feature`; nothing is
dropped silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from scheduler.content.groups import Batch
from scheduler.content.message import Outgoing
from scheduler.core.outcomes import Result, State
from scheduler.errors import TransportError, UnsupportedFeature


class Settings(BaseModel):
    """A provider's own table, ``[transport.<kind>]`` in config.toml. Unknown keys are
    errors, as everywhere in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


class Transport(ABC):
    #: stored in the ledger beside each entry; also its ``transport.kind``
    name: str = "base"
    #: its ``[transport.<name>]`` table, or None when it has no settings of its own
    settings_model: ClassVar[type[Settings] | None] = None
    #: how many messages one post_to_esp call should carry at most
    max_batch: int = 100
    #: sends a whole content group per request (claims are then ordered by group)
    groups_content: bool = False

    @classmethod
    @abstractmethod
    def from_config(cls, options: Any, base_dir: Path) -> Transport:
        """Build from the ``[transport]`` table; relative paths resolve against ``base_dir``."""

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
        (BENCHMARKS.md): passed back to :meth:`send_group` when every recipient was
        won. None when the transport has nothing to do ahead."""
        return None

    def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """One result per recipient of ``batch``, in order. Per-message transports send
        each expanded message; SendGrid overrides this with one request."""
        return self.send_batch(batch.messages())

    @staticmethod
    def all_of(batch: Batch, state: State, message_id: str | None = None, reason: str | None = None) -> list[Result]:
        return [Result(e, state, message_id, reason) for e in map(batch.entry_of, batch.recipients)]
