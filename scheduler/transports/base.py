"""The shared transport pipeline: ``build_message_payload`` -> ``post_to_esp`` ->
``parse_recipient_status``, as in django-anymail. Each transport fills in the three
steps; :meth:`Transport.send_batch` runs them and guarantees one result per message.

A feature a transport cannot carry raises :func:`unsupported_feature`; nothing is
dropped silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from scheduler.errors import TransportError, UnsupportedFeature
from scheduler.message import Outgoing
from scheduler.models import State
from scheduler.store import Result


def unsupported_feature(transport: str, feature: str) -> UnsupportedFeature:
    return UnsupportedFeature(f"the {transport} transport cannot carry {feature}")


class Transport(ABC):
    #: stored in the ledger beside each entry
    name: str = "base"
    #: how many messages one post_to_esp call should carry at most
    max_batch: int = 100

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
    def build_message_payload(self, messages: Sequence[Outgoing]) -> Any: ...

    @abstractmethod
    def post_to_esp(self, payload: Any, messages: Sequence[Outgoing]) -> Any: ...

    @abstractmethod
    def parse_recipient_status(self, response: Any, messages: Sequence[Outgoing]) -> list[Result]: ...

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

    @staticmethod
    def failed_all(messages: Sequence[Outgoing], reason: str, state: State = State.FAILED) -> list[Result]:
        return [Result(m.entry_id or 0, state, None, reason) for m in messages]
