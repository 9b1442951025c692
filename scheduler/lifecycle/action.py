"""The statement for the record (README: The statement for the record): the action page's
use cases. A subscriber opens the signed link from a campaign's message, checks the
prefilled letter, picks their region and sends it to that region's targets.

Every call takes ``now``. The link (``a1.<id>.<campaign>.<year>.<mac>``) is the whole
authentication: no account, no password. It works for its campaign year only, until
the event's date in the following year. At most one letter per campaign year and
subscriber: the store's unique key decides; a second submission shows the first."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.config import CampaignConfig, Config
from scheduler.config.action import LETTER_MAX
from scheduler.content.action import LetterTemplates, link_expires
from scheduler.content.targets import Target, Targets, read_targets
from scheduler.content.tokens import BadToken
from scheduler.core.outcomes import Status
from scheduler.delivery.letters import Drained, LetterSender
from scheduler.errors import SchedulerError, UsageError
from scheduler.lifecycle.inputs import NAME_MAX, InvalidInput, UnknownSubscriber, one_line_field, region_field
from scheduler.lifecycle.subscriptions import Lifecycle
from scheduler.store import Store
from scheduler.store.base import sqlite_path

log = logging.getLogger(__name__)

#: the form's name in its signed token
FORM = "action"
#: a postal address on one line: street, city, postcode, country
ADDRESS_MAX = 300
_MARKUP = re.compile(r"[<>]")
#: what a letter may hold besides printable characters: line breaks and tabs
_LETTER_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class BadForm(UsageError):
    """The form's own token is forged, for another form or link, or too old."""


class LinkExpired(SchedulerError):
    """The action link of a campaign year that is over."""

    def __init__(self, campaign: str, year: int, expired: datetime) -> None:
        super().__init__(f"the {campaign} {year} action link expired at {expired:%Y-%m-%d %H:%M} UTC")
        self.expired = expired


@dataclass(frozen=True)
class LetterForm:
    """What the page's form POSTs (the names are a contract)."""

    region: str | None
    name: str | None
    address: str | None
    letter: str | None


@dataclass(frozen=True)
class ActionView:
    """Everything the action page shows."""

    campaign: CampaignConfig
    year: int
    subscriber_id: int
    email: str
    name: str
    language: str
    #: the region the page shows targets for: the one asked for, else the subscriber's
    region: str | None
    regions: list[str]
    targets: list[Target]
    subject: str
    letter: str
    locked: bool
    #: letters sent for this campaign year, by everyone
    count: int
    #: the subscriber's letter, when they sent it already (with its ``deliveries``)
    sent: dict[str, Any] | None
    expires: datetime


def letter_field(value: str | None) -> str:
    """The letter keeps its line breaks (CR/LF made LF); it may not be empty, longer
    than LETTER_MAX characters, hold markup or other control characters."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidInput("letter", "required")
    if len(text) > LETTER_MAX:
        raise InvalidInput("letter", "too_long", f"at most {LETTER_MAX} characters")
    if _MARKUP.search(text):
        raise InvalidInput("letter", "markup")
    if _LETTER_CONTROLS.search(text):
        raise InvalidInput("letter", "control")
    return text + "\n"


class Actions:
    """The action pages of one config."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lc = lifecycle
        self.config = lifecycle.config
        self.store = lifecycle.store
        self._targets: dict[str, Targets] = {}
        self._letters: dict[str, LetterTemplates] = {}

    # -- links -------------------------------------------------------------------------

    def url(self, subscriber_id: int, campaign: CampaignConfig, year: int) -> str:
        return f"{self.lc.base}/action/{self.lc.keyring.action(subscriber_id, campaign.id, year)}"

    def _open(self, token: str, now: datetime) -> tuple[CampaignConfig, int, dict[str, Any]]:
        sid, campaign_id, year = self.lc.keyring.read_action(token)
        campaign = next((c for c in self.config.campaign if c.id == campaign_id and c.action), None)
        if campaign is None:
            raise BadToken(token, "token names no campaign with an action")
        expires = link_expires(campaign, year)
        if now >= expires:
            raise LinkExpired(campaign.id, year, expires)
        row = self.store.subscriber(sid)
        if row is None or row["status"] == Status.FORGOTTEN:
            raise UnknownSubscriber()
        return campaign, year, row

    def targets(self, campaign: CampaignConfig) -> Targets:
        """The campaign's targets, read once (a ConfigError names a bad line)."""
        if campaign.id not in self._targets:
            assert campaign.action is not None
            self._targets[campaign.id] = read_targets(self.config.base_dir / campaign.action.targets)
        return self._targets[campaign.id]

    def letters(self, campaign: CampaignConfig) -> LetterTemplates:
        if campaign.id not in self._letters:
            self._letters[campaign.id] = LetterTemplates(self.config, campaign)
        return self._letters[campaign.id]

    # -- the page ----------------------------------------------------------------------

    def view(self, token: str, now: datetime, *, region: str | None = None, language: str | None = None) -> ActionView:
        """The page: the prefilled letter in the subscriber's language (or ``language``),
        the targets of ``region`` (else of the subscriber's region), the count."""
        campaign, year, row = self._open(token, now)
        assert campaign.action is not None
        targets = self.targets(campaign)
        try:
            chosen = region_field(region) if region else row.get("region")
        except InvalidInput:
            chosen = None
        lang = language if language in campaign.languages else str(row["language"])
        prefilled = self.letters(campaign).render(year, str(row["name"]), lang)
        sent = self.store.letter_of(campaign.id, year, int(row["id"]))
        return ActionView(
            campaign=campaign,
            year=year,
            subscriber_id=int(row["id"]),
            email=str(row["email"]),
            name=str(row["name"]),
            language=prefilled.language,
            region=chosen if chosen and targets.covers(chosen) else None,
            regions=targets.regions,
            targets=targets.for_region(chosen) if chosen else [],
            subject=prefilled.subject,
            letter=prefilled.text,
            locked=campaign.action.locked,
            count=self.store.letters_count(campaign.id, year),
            sent=sent,
            expires=link_expires(campaign, year),
        )

    def form_token(self, subject: str, now: datetime) -> str:
        return self.lc.form_token(FORM, subject, now)

    def submit(self, token: str, form: LetterForm, csrf: str, subject: str, now: datetime) -> tuple[ActionView, bool]:
        """Check the form's own token (BadToken, Replayed), then its fields
        (InvalidInput, nothing recorded), then record the letter and send what the
        queue lets go now. Returns the page after it, and whether this submission
        recorded the letter (False: it had been sent before)."""
        campaign, year, row = self._open(token, now)
        assert campaign.action is not None
        try:
            self.lc.use_form(csrf, FORM, subject, now)
        except BadToken as exc:
            raise BadForm(str(exc)) from None
        sid = int(row["id"])
        if self.store.letter_of(campaign.id, year, sid) is not None:
            return self.view(token, now), False
        region = region_field(form.region)
        if region is None:
            raise InvalidInput("region", "required")
        targets = self.targets(campaign).for_region(region)
        if not targets:
            raise InvalidInput("region", "no_target", region)
        name = one_line_field("name", form.name, limit=NAME_MAX, required=True)
        address = one_line_field("address", form.address, limit=ADDRESS_MAX, required=True)
        prefilled = self.letters(campaign).render(year, str(row["name"]), str(row["language"]))
        text = prefilled.text if campaign.action.locked else letter_field(form.letter)
        letter = {
            "campaign": campaign.id,
            "year": year,
            "subscriber_id": sid,
            "language": prefilled.language,
            "region": region,
            "name": name,
            "address": address,
            "subject": prefilled.subject,
            "text": text,
        }
        people = [{"email": t.email, "name": t.name, "title": t.title, "language": t.language} for t in targets]
        recorded = self.store.record_letter(letter, people, now, copy=campaign.action.copy_to_subscriber)
        if recorded.new:
            log.info("letter %d recorded for %s %d: %d targets", recorded.letter_id, campaign.id, year, len(people))
            self.drain(now, limit=campaign.action.drain_per_request)
        return self.view(token, now), recorded.new

    def drain(self, now: datetime, *, limit: int | None = None) -> Drained:
        """Send what the queue lets go now. A submission's letter that cannot go now
        (a target's hourly limit, a transport that is down) stays queued for the
        daemon's next run: the submission itself never fails for it."""
        sender = LetterSender(self.config, self.store, self.lc.keyring.current)
        try:
            return sender.drain(now, limit=limit)
        except SchedulerError as exc:
            log.error("letters stay queued: %s", " ".join(str(exc).split()))
            return Drained()


def subscriber_regions(config: Config) -> dict[str, int] | None:
    """Active subscribers by region, for ``check``'s warning about regions without a
    target; None when no campaign has an action or there is no database yet (``check``
    never makes one)."""
    if not any(c.action for c in config.campaign):
        return None
    path = sqlite_path(config.database_url)
    if path is not None and not path.exists():
        return None
    try:
        store = Store(config.database_url)
    except SchedulerError:
        return None
    try:
        return store.subscriber_regions()
    finally:
        store.close()
