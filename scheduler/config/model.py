"""The shape of config.toml, as pydantic models: every key, its default and what is
allowed (README: Configuration). Unknown keys are errors. Reading the file and turning
validation errors into one line each is :mod:`scheduler.config.load`."""

from __future__ import annotations

import logging
import os
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from scheduler.config.action import ActionConfig
from scheduler.config.web import WebConfig, check_bind
from scheduler.core.dates import LeapDayRule, resolve_year
from scheduler.core.timing import QuietHours, parse_duration
from scheduler.core.values import check_language, check_zone, normalize_email
from scheduler.errors import MissingSecret, UnknownCampaign, UnknownStage, UsageError
from scheduler.transports import REGISTRY

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.toml")
_SLUG = r"^[a-z0-9][a-z0-9-]*$"

#: the SQLAlchemy drivers the store is written and tested for (README: Configuration)
DATABASE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
#: how long a SQLite write waits for another writer's lock; the store's default too
DEFAULT_BUSY_TIMEOUT = 60.0


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt `late_cutof_hours` must not be ignored silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _masked(url: str) -> str:
    """A database URL fit for an error line: never the password it may carry."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # Not a URL, but "user:secret@host" may still hold one.
        return re.sub(r"(?<=:)[^:@/]+(?=@)", "***", url)


class DatabaseConfig(_Strict):
    url: str = "sqlite:///subscribers.db"
    #: the environment variable holding the PostgreSQL password, merged into url
    password_env: str | None = None
    #: how long a SQLite write waits for another process's write lock before it gives up
    busy_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_BUSY_TIMEOUT

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            driver: str | None = make_url(value).drivername
        except ArgumentError:
            driver = None
        if driver not in DATABASE_DRIVERS:
            raise ValueError(f"must be sqlite:///path or postgresql+psycopg://user@host/db (got {_masked(value)!r})")
        return value

    @model_validator(mode="after")
    def _password_for_postgresql(self) -> DatabaseConfig:
        if self.password_env and make_url(self.url).get_backend_name() != "postgresql":
            raise ValueError("password_env: only a PostgreSQL url takes a password; a SQLite file has none")
        return self


class SenderConfig(_Strict):
    from_email: str
    from_name: str
    postal_address: Annotated[str, Field(min_length=5)]
    public_url: Annotated[str, Field(pattern=r"^https://[^\s]+$")]
    #: the mailto: half of List-Unsubscribe; defaults to from_email
    unsubscribe_mailto: str | None = None
    reply_to: str | None = None
    #: the environment variable holding the key that signs unsubscribe tokens
    signing_key_env: str = "ANNIVERSARY_SIGNING_KEY"
    #: the environment variable holding retired keys, still accepted (README: Rotating the key)
    previous_signing_keys_env: str = "ANNIVERSARY_PREVIOUS_SIGNING_KEYS"

    @field_validator("from_email", "unsubscribe_mailto", "reply_to")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)


def _address(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError as exc:
        raise ValueError(f"must be an email address (got {value!r}: {str(exc).split(': ', 1)[-1]})") from None


#: (batch size, concurrency) per transport kind where config.toml sets neither (README:
#: Transports; measured in BENCHMARKS.md, "Defaults that fit the transport"). SendGrid
#: takes 1,000 personalizations a request, and with 2 the next batch is claimed while a
#: request waits. The outbox and SMTP send one message at a time and were as fast with
#: 1 as with 2, 4 or 8 (building each message bounds them), so they keep 1 and 100:
#: after a crash at most 100 entries read ``unknown``.
TRANSPORT_DEFAULTS: dict[str, tuple[int, int]] = {"sendgrid": (1000, 2), "outbox": (100, 1), "smtp": (100, 1)}
_FALLBACK_BATCHING = (100, 1)
_TRANSPORT_NAMES = {"sendgrid": "SendGrid", "outbox": "the outbox", "smtp": "SMTP"}


class Batching(NamedTuple):
    batch_size: int
    concurrency: int
    #: whether config.toml set each, rather than the transport's default
    batch_size_set: bool
    concurrency_set: bool
    #: the transport, as a sentence names it ("SendGrid")
    transport: str

    def describe(self) -> str:
        """One line for ``status`` and the log: the values in force and where each came from."""
        if self.batch_size_set and self.concurrency_set:
            source = "from config.toml"
        elif not self.batch_size_set and not self.concurrency_set:
            source = f"{self.transport}'s defaults"
        else:
            own, other = ("batch size", "concurrency") if self.batch_size_set else ("concurrency", "batch size")
            source = f"{own} from config.toml, {other} {self.transport}'s default"
        return f"Batching: {self.batch_size} per request, concurrency {self.concurrency} ({source})"


class _TransportBase(_Strict):
    kind: str = "outbox"
    outbox_dir: Path = Path("outbox")
    #: messages per second across the run; 0 means unlimited
    rate_per_second: Annotated[float, Field(ge=0)] = 0
    #: None: the transport's own default (TRANSPORT_DEFAULTS), resolved by ``batching``
    concurrency: Annotated[int, Field(ge=1, le=64)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=1000)] | None = None
    #: subscribers read ahead per database round trip, then grouped by content into
    #: requests of batch_size; each batch is claimed only just before it goes out
    claim_size: Annotated[int, Field(ge=1, le=100_000)] = 5000

    @property
    def batching(self) -> Batching:
        """The batch size and concurrency a send uses: config.toml's where it sets them,
        else the transport's defaults (README: Transports). The one place they are resolved."""
        batch, concurrency = TRANSPORT_DEFAULTS.get(self.kind, _FALLBACK_BATCHING)
        return Batching(
            self.batch_size if self.batch_size is not None else batch,
            self.concurrency if self.concurrency is not None else concurrency,
            self.batch_size is not None,
            self.concurrency is not None,
            _TRANSPORT_NAMES.get(self.kind, self.kind),
        )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in REGISTRY:
            names = [repr(k) for k in REGISTRY]
            allowed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
            raise ValueError(f"must be one of {allowed} (got {value!r})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _chosen_table(cls, data: Any) -> Any:
        # The chosen provider's table is validated even when the file leaves it out, so
        # a setting it requires (transport.smtp.host) is reported by its own key.
        if isinstance(data, dict):
            kind = data.get("kind", "outbox")
            if isinstance(kind, str) and kind in REGISTRY and kind in cls.model_fields and data.get(kind) is None:
                return {**data, kind: {}}
        return data


def _default_settings(settings: type[BaseModel]) -> BaseModel | None:
    """A provider's table when the file has none: its defaults, or None when it needs
    a setting of its own (it is then only required when that provider is chosen)."""
    try:
        return settings()
    except ValidationError:
        return None


# ``[transport]`` with one table per provider that has settings, ``[transport.smtp]``
# and so on, each validated by the provider's own Settings: read from the transports'
# registry, so a new provider needs no change here.
TransportConfig: Any = create_model(  # type: ignore[call-overload]
    "TransportConfig",
    __base__=_TransportBase,
    **{
        kind: (cls.settings_model | None, _default_settings(cls.settings_model))
        for kind, cls in REGISTRY.items()
        if cls.settings_model
    },
)


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


class StageConfig(_Strict):
    """One message of a campaign year. It goes out either at ``send_time`` on each
    subscriber's clock, ``days_before`` days before the event, or ``send_before_silence``
    before the minute of silence, kept out of quiet hours (README: Time)."""

    id: Annotated[str, Field(pattern=_SLUG)]
    days_before: Annotated[int, Field(ge=0, le=366)] = 0
    send_time: time | None = None
    send_before_silence: timedelta | None = None
    #: [start, end) on the subscriber's clock; the campaign's when not set here
    quiet_hours: tuple[time, time] | None = None
    min_lead: timedelta = timedelta(hours=1)
    #: never send after the local minute of silence (default: for silence-timed stages)
    not_after_silence: bool | None = None
    #: attach the minute of silence as a calendar invitation (README: Templates)
    calendar: bool = True

    _durations = field_validator("send_before_silence", "min_lead", mode="before")(
        classmethod(lambda cls, v: _duration(v))
    )

    @model_validator(mode="before")
    @classmethod
    def _timing(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if ("send_time" in data) == ("send_before_silence" in data):
            raise ValueError('needs exactly one of send_time (a wall-clock time) or send_before_silence (e.g. "4h")')
        if "send_time" in data and "days_before" not in data:
            raise ValueError("days_before is required beside send_time")
        if "send_before_silence" in data and data.get("days_before", 0) != 0:
            raise ValueError(
                f"days_before must be 0 beside send_before_silence: the silence is on the event's day "
                f"(got {data['days_before']!r})"
            )
        return data

    @property
    def timed_from_silence(self) -> bool:
        return self.send_before_silence is not None

    @property
    def skips_after_silence(self) -> bool:
        return self.timed_from_silence if self.not_after_silence is None else self.not_after_silence


class CampaignConfig(_Strict):
    id: Annotated[str, Field(pattern=_SLUG)]
    #: one title, or a table by language (the first language's is the fallback)
    title: Annotated[str, Field(min_length=1)] | dict[str, Annotated[str, Field(min_length=1)]]
    event_date: date
    timezone: str
    silence_time: time
    languages: Annotated[list[str], Field(min_length=1)]
    templates: Path
    late_cutoff_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 12
    leap_day: LeapDayRule = "feb28"
    #: the default quiet hours of silence-timed stages, on each subscriber's clock
    quiet_hours: tuple[time, time] | None = None
    stage: Annotated[list[StageConfig], Field(min_length=1)]
    #: the statement for the record (README: The statement for the record); none by default
    action: ActionConfig | None = None

    _zone = field_validator("timezone")(classmethod(lambda cls, v: check_zone(v)))

    def resolve_year(self, year: int | None, now: datetime) -> int:
        """``year`` when given (checked to have an anniversary), else the coming one."""
        return resolve_year(self.event_date, self.timezone, self.leap_day, year, now)

    def choose_language(self, language: str | None) -> str:
        """A message language for ``--language``: one of the campaign's, the first by default."""
        lang = language or self.languages[0]
        if lang not in self.languages:
            raise UsageError(f"--language {lang!r} is not one of {', '.join(self.languages)}")
        return lang

    def choose_zone(self, zone: str | None) -> str:
        """A subscriber zone for ``--timezone``: an IANA name, the event's by default."""
        try:
            return check_zone(zone or self.timezone)
        except ValueError as exc:
            raise UsageError(f"--timezone {exc}") from None

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for lang in value:
            check_language(lang)
        if len(set(value)) != len(value):
            raise ValueError(f"must not repeat a language (got {value!r})")
        return value

    @model_validator(mode="after")
    def _unique_stages(self) -> CampaignConfig:
        ids = [s.id for s in self.stage]
        if len(set(ids)) != len(ids):
            raise ValueError(f"stage ids must be unique (got {ids!r})")
        if isinstance(self.title, dict):
            unknown = sorted(set(self.title) - set(self.languages))
            if unknown or self.languages[0] not in self.title:
                raise ValueError(
                    f"title: a table of titles needs the first language {self.languages[0]!r} and only the "
                    f"campaign's languages ({', '.join(self.languages)}); got {', '.join(sorted(self.title))}"
                )
        return self

    def title_in(self, language: str) -> str:
        """The campaign's title in ``language``, else in its first language."""
        if isinstance(self.title, str):
            return self.title
        return self.title.get(language) or self.title[self.languages[0]]

    def quiet_for(self, stage: StageConfig) -> QuietHours | None:
        """A silence-timed stage's quiet hours: its own, else the campaign's."""
        if not stage.timed_from_silence:
            return None
        pair = stage.quiet_hours or self.quiet_hours
        return QuietHours(*pair) if pair else None

    def get_stage(self, stage_id: str) -> StageConfig:
        for stage in self.stage:
            if stage.id == stage_id:
                return stage
        raise UnknownStage(self.id, stage_id, [s.id for s in self.stage])


class OrganizersConfig(_Strict):
    emails: list[str] = []
    heads_up_days: Annotated[int, Field(ge=1, le=120)] = 30

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]


class StudioConfig(_Strict):
    """``[studio]``: the organizers' preview app (README: The studio); localhost only by
    default, since it has no login."""

    bind: str = "127.0.0.1:8090"

    _bind = field_validator("bind")(classmethod(lambda cls, v: check_bind(v)))


class Config(_Strict):
    database: DatabaseConfig = DatabaseConfig()
    sender: SenderConfig
    transport: TransportConfig = TransportConfig()  # type: ignore[valid-type]
    organizers: OrganizersConfig = OrganizersConfig()
    web: WebConfig = WebConfig()
    studio: StudioConfig = StudioConfig()
    campaign: Annotated[list[CampaignConfig], Field(min_length=1)]
    #: set by load_config: the folder relative paths resolve against
    base_dir: Path = Path(".")
    path: Path = DEFAULT_CONFIG

    @model_validator(mode="after")
    def _unique_campaigns(self) -> Config:
        ids = [c.id for c in self.campaign]
        if len(set(ids)) != len(ids):
            raise ValueError(f"campaign ids must be unique (got {ids!r})")
        return self

    def get_campaign(self, campaign_id: str) -> CampaignConfig:
        for campaign in self.campaign:
            if campaign.id == campaign_id:
                return campaign
        raise UnknownCampaign(campaign_id, [c.id for c in self.campaign])

    @property
    def shared_templates(self) -> Path:
        return self.base_dir / "templates"

    def campaign_templates(self, campaign: CampaignConfig) -> Path:
        return self.base_dir / campaign.templates

    def for_demo(self, folder: Path) -> Config:
        """This config with its own SQLite file and the outbox transport, both in
        ``folder``: the demo never touches the configured database or transport."""
        folder = (self.base_dir / folder).resolve()
        return self.model_copy(
            update={
                "database": DatabaseConfig(url=f"sqlite:///{folder / 'subscribers.db'}"),
                "transport": self.transport.model_copy(update={"kind": "outbox", "outbox_dir": folder / "outbox"}),
            }
        )

    @property
    def outbox_dir(self) -> Path:
        return self.base_dir / self.transport.outbox_dir

    @property
    def database_url(self) -> str:
        """The URL the store opens: a relative SQLite path resolved against config.toml's
        folder, a busy timeout other than the default as the driver's ``timeout``, and
        the PostgreSQL password from ``database.password_env`` (so print the URL only
        through ``make_url(...).render_as_string()``, which hides it)."""
        db, url = self.database, make_url(self.database.url)
        if url.get_backend_name() == "postgresql" and db.password_env:
            password = os.environ.get(db.password_env)
            if not password:
                raise MissingSecret(db.password_env, "database.password_env")
            return url.set(password=password).render_as_string(hide_password=False)
        text = db.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = url.database if Path(url.database).is_absolute() else (self.base_dir / url.database).resolve()
            text = text.replace(f":///{url.database}", f":///{path}", 1)
        if url.get_backend_name() == "sqlite" and db.busy_timeout_seconds != DEFAULT_BUSY_TIMEOUT:
            text = make_url(text).update_query_dict({"timeout": f"{db.busy_timeout_seconds:g}"}).render_as_string()
        return text
