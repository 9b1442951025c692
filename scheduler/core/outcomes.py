"""The words every layer shares: a subscriber's status, a ledger entry's state, and a
transport's answer for one entry. They live in the core so that the store, the
transports and the send pipeline can all use them without importing each other."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Status(StrEnum):
    """A subscriber's status; only ``active`` subscribers are sent to."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    #: marked the mail as spam (a provider's complaint or spam report)
    COMPLAINED = "complained"
    #: erased on request (README: Privacy): the row stays, anonymous, for the ledger's counts
    FORGOTTEN = "forgotten"


#: statuses a new confirmed opt-in may lift, and nothing else may (README: The web app)
OPTED_OUT = frozenset({Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED})


class State(StrEnum):
    """Where one (campaign, year, stage, subscriber) ends a run (README: "Sending,
    exactly once").

    ``unknown`` is written when an entry is claimed and replaced once the transport
    answers; one left behind means the process died, or the answer was lost, while the
    message was in flight. It is never resent automatically.
    """

    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


class Result(NamedTuple):
    """A transport's answer for one ledger entry (0 for a message with no entry)."""

    entry_id: int
    state: State
    message_id: str | None = None
    reason: str | None = None
