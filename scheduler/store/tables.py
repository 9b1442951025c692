"""The tables, as SQLModel classes. Only :mod:`scheduler.store` runs SQL against them,
and only Alembic migrations (``scheduler/store/migrations/``) change their shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from scheduler.core.outcomes import State, Status

__all__ = [
    "FormNonce",
    "HeadsUp",
    "LedgerEntry",
    "Letter",
    "LetterDelivery",
    "Run",
    "State",
    "Status",
    "Subscriber",
    "Suppression",
    "UTCDateTime",
    "WebhookEvent",
]

# Constraint names that later migrations can refer to (Alembic's batch mode on SQLite
# recreates tables and needs them). Primary keys keep each database's own default name,
# as release 0.1.0 made them; the tables below name their other constraints already.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone)
    and PostgreSQL (timestamptz) alike. A naive datetime is a bug: refuse it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _utc() -> Column[datetime]:
    return Column(UTCDateTime(), nullable=False)


def _utc_or_none() -> Column[datetime]:
    return Column(UTCDateTime(), nullable=True)


class Subscriber(SQLModel, table=True):
    __tablename__ = "subscriber"
    # AUTOINCREMENT: SQLite never hands an id out twice, so an unsubscribe link signed
    # for someone removed cannot come to name someone new (migration 0002; PostgreSQL's
    # sequence never reuses one anyway).
    __table_args__ = (
        Index("ix_subscriber_status_zone", "status", "timezone", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    #: the address as normalized by email-validator (domain lower-cased)
    email: str
    #: lower-cased address: one subscriber without regard to case
    email_key: str = Field(unique=True, index=True)
    name: str = ""
    language: str
    timezone: str
    status: str = Field(default=Status.ACTIVE.value)
    consent_at: datetime = Field(sa_column=_utc())
    consent_source: str
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())
    # The consent record (README: The web app): what GDPR Art. 7(1) asks a controller
    # to be able to demonstrate. Sign-up: ``consent_at`` and these; confirmation: below.
    consent_ip: str | None = None
    consent_user_agent: str | None = None
    consent_page: str | None = None
    #: the version of the sign-up wording the subscriber saw
    consent_wording: str | None = None
    confirmed_at: datetime | None = Field(default=None, sa_column=_utc_or_none())
    confirmed_ip: str | None = None
    #: why the status is what it is: "one-click", "bounce", "spamreport", "by hand: ..."
    status_reason: str | None = None
    #: ISO 3166-2 (US-TX), for the statement-for-the-record action's targets
    region: str | None = None


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger"
    # The unique key is the only index: every claim inserts into each index and every
    # answer rewrites the indexed state, so each extra index costs every send (BENCHMARKS.md,
    # SendGrid delivery). Counts by state scan the unique key's (campaign, year, stage) prefix.
    __table_args__ = (UniqueConstraint("campaign", "year", "stage", "subscriber_id", name="uq_ledger_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign: str
    year: int
    stage: str
    subscriber_id: int = Field(foreign_key="subscriber.id")
    state: str
    message_id: str | None = None
    reason: str | None = None
    run_id: str
    transport: str
    updated_at: datetime = Field(sa_column=_utc())
    #: what the provider said after accepting it (SendGrid's Event Webhook): "delivered",
    #: "deferred", "bounce", ... The state stays "sent": it says what we did.
    delivery: str | None = None
    delivery_at: datetime | None = Field(default=None, sa_column=_utc_or_none())


class Run(SQLModel, table=True):
    __tablename__ = "run"

    id: str = Field(primary_key=True)
    command: str
    started_at: datetime = Field(sa_column=_utc())
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    summary: str = ""


class HeadsUp(SQLModel, table=True):
    """The organizers' heads-up (README: Operations): one row per campaign year, claimed
    before it is sent so two daemons never both send it."""

    __tablename__ = "heads_up"
    __table_args__ = (UniqueConstraint("campaign", "year", name="uq_heads_up"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign: str
    year: int
    #: "claimed" while in flight, "sent" once the transport accepted it
    state: str
    recipients: str = ""
    message_id: str | None = None
    updated_at: datetime = Field(sa_column=_utc())


class Suppression(SQLModel, table=True):
    """Addresses never to be mailed or re-activated by an import: a keyed hash of the
    lower-cased address, never the address (README: Privacy), so forgetting someone
    keeps them off the list without keeping who they were."""

    __tablename__ = "suppression"

    email_hash: str = Field(primary_key=True)
    reason: str
    source: str
    created_at: datetime = Field(sa_column=_utc())


class WebhookEvent(SQLModel, table=True):
    """Provider events already applied: SendGrid retries for 24 hours and may repeat an
    event, so each ``sg_event_id`` is applied once."""

    __tablename__ = "webhook_event"
    __table_args__ = (Index("ix_webhook_event_received_at", "received_at"),)

    event_id: str = Field(primary_key=True)
    received_at: datetime = Field(sa_column=_utc())


class FormNonce(SQLModel, table=True):
    """Form tokens already used: a replayed form is refused (README: The web app)."""

    __tablename__ = "form_nonce"
    __table_args__ = (Index("ix_form_nonce_used_at", "used_at"),)

    nonce: str = Field(primary_key=True)
    used_at: datetime = Field(sa_column=_utc())


class Letter(SQLModel, table=True):
    """A subscriber's statement for the record (README: The statement for the record):
    at most one per campaign year, which the unique key keeps even when two
    submissions arrive at once. Its targets are its :class:`LetterDelivery` rows."""

    __tablename__ = "letter"
    __table_args__ = (UniqueConstraint("campaign", "year", "subscriber_id", name="uq_letter"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign: str
    year: int
    subscriber_id: int = Field(foreign_key="subscriber.id")
    language: str
    region: str
    #: the subscriber's name and postal address as they signed the letter
    name: str
    address: str
    subject: str
    text: str
    created_at: datetime = Field(sa_column=_utc())


class LetterDelivery(SQLModel, table=True):
    """One letter to one target (or the subscriber's copy): a queue in ``id`` order.
    A row is claimed (``queued`` -> ``sending``) before it is sent, so two processes
    never send it twice; ``claimed_at`` is what the per-target hourly limit counts."""

    __tablename__ = "letter_delivery"
    __table_args__ = (
        UniqueConstraint("letter_id", "target_key", name="uq_letter_delivery"),
        Index("ix_letter_delivery_state", "state", "id"),
        Index("ix_letter_delivery_target", "target_key", "claimed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id")
    #: "target", or "copy" for the subscriber's own copy
    kind: str
    #: the lower-cased address: one target whatever the case it is written in
    target_key: str
    target_email: str
    target_name: str
    target_title: str = ""
    target_language: str = ""
    #: queued, sending, sent or failed
    state: str
    queued_at: datetime = Field(sa_column=_utc())
    claimed_at: datetime | None = Field(default=None, sa_column=_utc_or_none())
    sent_at: datetime | None = Field(default=None, sa_column=_utc_or_none())
    message_id: str | None = None
    reason: str | None = None
