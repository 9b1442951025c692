"""Sign-up, confirmation, one-click unsubscribe and preferences (README: The web app).

Every call takes ``now``. The web app parses a request, calls one method and presents
what comes back; the same calls are what its tests drive.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

from scheduler.config import Config
from scheduler.content.notices import NoticeTemplates
from scheduler.content.tokens import Keyring
from scheduler.core.outcomes import OPTED_OUT, State, Status
from scheduler.delivery.notices import send_notice
from scheduler.delivery.runs import Delivery
from scheduler.errors import SchedulerError, TransportError
from scheduler.lifecycle.inputs import (
    NAME_MAX,
    RateLimited,
    Replayed,
    SignupRequest,
    UnknownSubscriber,
    email_field,
    language_field,
    one_line_field,
    region_field,
    short,
    zone_field,
)
from scheduler.lifecycle.limits import Window
from scheduler.store import Store, upgrade_database

log = logging.getLogger(__name__)

#: an active subscriber who signs up again hears about it at most once a day
NOTICE_EVERY_S = 24 * 3600


class NoticeFailed(SchedulerError):
    """The confirmation (or notice) could not be handed to the transport."""


@dataclass(frozen=True)
class Profile:
    subscriber_id: int
    email: str
    name: str
    language: str
    timezone: str
    region: str | None
    status: Status
    #: the subscriber's unsubscribe/preferences token (``v1``)
    token: str
    #: (campaign title, action page URL) for campaigns with a statement-for-the-record action
    actions: tuple[tuple[str, str], ...] = ()


def _consent(ip: str | None, user_agent: str | None, page: str | None, wording: str) -> dict[str, str | None]:
    """A sign-up's consent record, each field bounded (GDPR Art. 7(1))."""
    return {
        "consent_ip": short(ip, 64),
        "consent_user_agent": short(user_agent),
        "consent_page": short(page),
        "consent_wording": short(wording, 100),
    }


def _page_zones() -> list[str]:
    zones = {
        z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "posix/", "right/", "SystemV/"))
    }
    return [*sorted(zones), "UTC"]


class Lifecycle:
    def __init__(self, config: Config, store: Store, keyring: Keyring) -> None:
        self.config = config
        self.store = store
        self.keyring = keyring
        langs: list[str] = []
        for campaign in config.campaign:
            langs += [lang for lang in campaign.languages if lang not in langs]
        self.languages = langs
        self.zones = _page_zones()
        self.notices = NoticeTemplates(config, langs)
        self.delivery = Delivery(config, store, keyring.current)
        limits = config.web.signup_limits
        self._per_ip = Window(limits.per_ip_per_hour, 3600)
        self._per_address = Window(limits.per_address_per_hour, 3600)
        self._notices = Window(1, NOTICE_EVERY_S)
        self.base = config.sender.public_url.rstrip("/")

    @classmethod
    def open(cls, config: Config) -> Lifecycle:
        """The signing keys first (nothing starts without them), then the database,
        brought to this release's schema as the daemon does on start."""
        keyring = Keyring.from_config(config)
        url = config.database_url
        upgrade_database(url)
        return cls(config, Store(url), keyring)

    # -- what pages need ------------------------------------------------------------

    def language_for(self, accept_language: str | None, wanted: str | None) -> str:
        """The form's language when it is one of ours, else the best of Accept-Language
        (RFC 9110 section 12.5.4), else the first campaign's first language."""
        if wanted in self.languages:
            return str(wanted)
        ranked: list[tuple[float, int, str]] = []
        for i, item in enumerate((accept_language or "")[:1000].split(",")[:30]):
            tag, _, params = item.strip().partition(";")
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    continue
            primary = tag.strip().lower().split("-")[0]
            if primary in self.languages and q > 0:
                ranked.append((-q, i, primary))
        return sorted(ranked)[0][2] if ranked else self.languages[0]

    @staticmethod
    def wording_version(text: str) -> str:
        """A short, stable name for the consent wording a page showed: what a consent
        record keeps, so the exact words can be found again (GDPR Art. 7(1))."""
        return "sha256:" + hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:12]

    def form_token(self, form: str, subject: str, now: datetime) -> str:
        return self.keyring.form(form, subject, now)

    def use_form(self, token: str, form: str, subject: str, now: datetime) -> None:
        """A form's hidden token: signed by us, for this form and link, recent, and
        never used before (README: The web app: forms need no cookie)."""
        max_age = self.config.web.form_max_age_minutes * 60
        nonce = self.keyring.read_form(token, form, subject, now, max_age)
        if not self.store.use_nonce(nonce, now, now - timedelta(seconds=max_age + 3600)):
            raise Replayed()

    def healthy(self) -> None:
        self.store.ping()

    # -- sign-up and confirmation ----------------------------------------------------

    def sign_up(self, req: SignupRequest, now: datetime) -> None:
        """Record a sign-up and send the confirmation. The outcome is the same whether
        or not the address was known: nothing here tells a visitor who is subscribed."""
        email = email_field(req.email)
        name = one_line_field("name", req.name, limit=NAME_MAX, required=False)
        language = language_field(req.language, self.languages)
        zone = zone_field(req.timezone)
        key = email.lower()
        if req.ip and (wait := self._per_ip.hit(req.ip, now)):
            raise RateLimited("this address", wait)
        if wait := self._per_address.hit(key, now):
            raise RateLimited("this email address", wait)
        consent = _consent(req.ip, req.user_agent, req.page_url, req.wording)
        seen = self.store.signup({"email": email, "name": name, "language": language, "timezone": zone}, consent, now)
        if seen.was is Status.ACTIVE:
            # Already subscribed: one notice a day at most, with their preferences link.
            if not self._notices.hit(key, now):
                self._send("already", seen.subscriber_id, now)
            return
        self._send("confirm", seen.subscriber_id, now)

    def _send(self, kind: str, subscriber_id: int, now: datetime) -> None:
        row = self.store.subscriber(subscriber_id)
        if row is None:
            return
        token = self.keyring.unsubscribe(subscriber_id)
        hours = self.config.web.confirm_hours
        context = {
            "name": row["name"],
            "email": row["email"],
            "confirm_url": f"{self.base}/confirm/{self.keyring.confirm(subscriber_id, now + timedelta(hours=hours))}",
            "preferences_url": f"{self.base}/unsubscribe/{token}",
            "unsubscribe_url": f"{self.base}/unsubscribe/{token}",
            "expires_hours": hours,
            "sender": self.config.sender,
        }
        rendered = self.notices.render(kind, row["language"], context)
        try:
            result = send_notice(
                self.delivery,
                rendered,
                to_email=row["email"],
                to_name=row["name"],
                unsubscribe_url=context["unsubscribe_url"],
                kind=kind,
                now=now,
            )
        except (TransportError, OSError) as exc:
            log.error("%s email to subscriber %d not sent: %s", kind, subscriber_id, " ".join(str(exc).split()))
            raise NoticeFailed(f"the {kind} email could not be sent") from None
        if result.state is not State.SENT:
            log.error("%s email to subscriber %d not sent: %s", kind, subscriber_id, result.reason)
            raise NoticeFailed(f"the {kind} email could not be sent")
        log.info("%s email sent to subscriber %d", kind, subscriber_id)

    def confirmation(self, token: str, now: datetime) -> Profile:
        """The confirmation link opened: who it is for. Confirms nothing (mail scanners
        open links); the page's button does."""
        return self._profile(self.keyring.read_confirm(token, now), now)

    def confirm(self, token: str, ip: str | None, now: datetime) -> Profile:
        sid = self.keyring.read_confirm(token, now)
        row = self.store.subscriber(sid)
        if row is None or row["status"] == Status.FORGOTTEN:
            raise UnknownSubscriber()
        hashes = self.keyring.email_hashes(str(row["email_key"]))
        if self.store.confirm(sid, short(ip, 64), hashes, now) is None:
            raise UnknownSubscriber()
        return self._profile(sid, now)

    # -- the subscriber's own link -----------------------------------------------------

    def _profile(self, sid: int, now: datetime | None = None) -> Profile:
        row = self.store.subscriber(sid)
        if row is None or row["status"] == Status.FORGOTTEN:
            raise UnknownSubscriber()
        return Profile(
            subscriber_id=sid,
            email=str(row["email"]),
            name=str(row["name"]),
            language=str(row["language"]),
            timezone=str(row["timezone"]),
            region=row.get("region"),
            status=Status(row["status"]),
            token=self.keyring.unsubscribe(sid),
            actions=self.actions_for(sid, now),
        )

    def actions_for(self, sid: int, now: datetime | None) -> tuple[tuple[str, str], ...]:
        """The statement-for-the-record action pages this subscriber may open: each
        campaign with an action, for its coming year (README: The statement for the
        record). None without ``now``: the year depends on it."""
        if now is None:
            return ()
        return tuple(
            (c.title_in(c.languages[0]), f"{self.base}/action/{self.keyring.action(sid, c.id, year)}")
            for c in self.config.campaign
            for year in (c.resolve_year(None, now),)
            if c.action is not None
        )

    def profile(self, token: str, now: datetime | None = None) -> Profile:
        return self._profile(self.keyring.read_unsubscribe(token), now)

    def unsubscribe(self, token: str, now: datetime, *, how: str = "one-click") -> Profile:
        """RFC 8058: effective for the very next send, since sends select active
        subscribers only. Doing it twice changes nothing."""
        sid = self.keyring.read_unsubscribe(token)
        if self.store.opt_out(sid, Status.UNSUBSCRIBED, how, now) is None:
            raise UnknownSubscriber()
        return self._profile(sid, now)

    def update_preferences(
        self, token: str, *, language: str | None, timezone: str | None, region: str | None, now: datetime
    ) -> Profile:
        sid = self.keyring.read_unsubscribe(token)
        values = {
            "language": language_field(language, self.languages),
            "timezone": zone_field(timezone),
            "region": region_field(region),
        }
        if not self.store.set_preferences(sid, values, now):
            raise UnknownSubscriber()
        return self._profile(sid, now)

    def resubscribe(
        self, token: str, *, ip: str | None, user_agent: str | None, page_url: str | None, wording: str, now: datetime
    ) -> Profile:
        """Someone who left asks to come back: a new confirmation email, as for a new
        sign-up; nothing changes until they confirm (an address that unsubscribed,
        bounced or complained is never re-activated without a confirmed opt-in)."""
        profile = self.profile(token)
        if profile.status not in OPTED_OUT and profile.status is not Status.PENDING:
            return profile
        if wait := self._per_address.hit(profile.email.lower(), now):
            raise RateLimited("this email address", wait)
        person = {
            "email": profile.email,
            "name": profile.name,
            "language": profile.language,
            "timezone": profile.timezone,
        }
        self.store.signup(person, _consent(ip, user_agent, page_url, wording), now)
        self._send("confirm", profile.subscriber_id, now)
        return profile

    def purge(self, now: datetime) -> int:
        """Delete sign-ups never confirmed within ``web.purge_pending_days``."""
        return self.store.purge_pending(self.config.web.purge_before(now))
