"""Composing a stage's messages for sending: every path that sends (``send``,
``run-due``, the daemon, ``send-test``) turns people into :class:`Batch` es here, so
each message is rendered the same way. No database and no clock: people come in,
``now`` is a parameter.

A group of people who share a content (:mod:`scheduler.content.groups`) is rendered
once with placeholders; when the templates transform the name or the link, each person
is rendered alone instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.content.calendar import invitation
from scheduler.content.groups import Batch, GroupKey, Recipient, render_group, safe_name
from scheduler.content.links import Links, Signer
from scheduler.content.message import CalendarPart, Outgoing, Rendered
from scheduler.content.templates import SubscriberView, TemplateSet, build_context
from scheduler.content.tokens import Keyring
from scheduler.core.values import one_line, printable_line
from scheduler.errors import TemplateProblem

log = logging.getLogger(__name__)


class Person(NamedTuple):
    """Someone to send to: a subscriber (``store.Candidate`` has the same fields), or,
    with ``subscriber_id`` None, the address of a test send."""

    subscriber_id: int | None
    email: str
    name: str
    language: str
    timezone: str


class Composed(NamedTuple):
    batches: list[Batch]
    #: (subscriber id, why) for each person whose message did not render
    failed: list[tuple[int | None, str]]


#: a Recipient from a tuple without the NamedTuple constructor's Python frame: a send
#: makes one per subscriber (BENCHMARKS.md, SendGrid delivery)
_recipient = functools.partial(tuple.__new__, Recipient)


class Composer:
    """Templates and signed links for one config; group renderings are kept, since
    templates do not change under a running composer (the daemon makes a new one on
    SIGHUP)."""

    def __init__(self, config: Config, signer: Signer) -> None:
        self.config = config
        self.links = Links(config, signer)
        self._keyring = Keyring(signer)
        #: ``{public_url}/action/``: the statement-for-the-record page, with a token after it
        self.action_base = f"{config.sender.public_url.rstrip('/')}/action/"
        self._templates: dict[str, TemplateSet] = {}
        #: a group's content, None (render each alone) or why the group does not render
        self._groups: dict[tuple[str, str, int, GroupKey], Rendered | TemplateProblem | None] = {}
        #: the invitation of each (campaign, year, language): made once, shared by groups
        self._calendars: dict[tuple[str, int, str], CalendarPart] = {}

    def templates(self, campaign: CampaignConfig) -> TemplateSet:
        if campaign.id not in self._templates:
            self._templates[campaign.id] = TemplateSet(self.config, campaign)
        return self._templates[campaign.id]

    def action_url(self, campaign: CampaignConfig, year: int, subscriber_id: int) -> str:
        """The subscriber's statement-for-the-record link for this campaign year; "" for
        a campaign without an action (README: The statement for the record)."""
        if campaign.action is None:
            return ""
        return self.action_base + self._keyring.action(subscriber_id, campaign.id, year)

    def render(
        self, campaign: CampaignConfig, stage: StageConfig, year: int, view: SubscriberView, link_id: int
    ) -> Rendered:
        """One person's message, whole (preview, the preflight, rendering alone)."""
        action = self.action_url(campaign, year, link_id)
        ctx = build_context(self.config, campaign, stage, year, view, self.links.unsubscribe(link_id), action)
        return self.templates(campaign).render(stage.id, ctx)

    def preflight(self, campaign: CampaignConfig, stage: StageConfig, year: int) -> None:
        """Render every language once: a broken template stops a run before it claims
        anything, instead of failing every subscriber."""
        for lang in campaign.languages:
            self.render(campaign, stage, year, SubscriberView("Preflight", lang, campaign.timezone), 0)

    def group(self, campaign: CampaignConfig, stage: StageConfig, year: int, key: GroupKey) -> Rendered | None:
        """The group's content with placeholders (made once), or None when its people
        must be rendered alone. TemplateProblem when the templates do not render; that
        answer is kept too, so each batch of a broken group does not render it again."""
        cache_key = (campaign.id, stage.id, year, key)
        if cache_key not in self._groups:
            language, zone, has_name = key
            tpl = self.templates(campaign)

            def render(name: str, url: str, action: str = "") -> Rendered:
                view = SubscriberView(name if has_name else "", language, zone)
                return tpl.render(stage.id, build_context(self.config, campaign, stage, year, view, url, action))

            action_base = self.action_base if campaign.action is not None else None
            try:
                self._groups[cache_key] = render_group(render, self.links.unsubscribe_base, action_base)
            except TemplateProblem as exc:
                self._groups[cache_key] = exc
            except Exception as exc:
                # Not the templates' doing (they raise TemplateProblem): still the group's
                # content, so its people are given back, never left unknown.
                log.debug("content group %s did not render", key, exc_info=True)
                self._groups[cache_key] = TemplateProblem(f"{type(exc).__name__}: {one_line(str(exc))[:300]}")
        got = self._groups[cache_key]
        if isinstance(got, TemplateProblem):
            raise TemplateProblem(str(got))
        return got

    def calendar(self, campaign: CampaignConfig, stage: StageConfig, year: int, language: str) -> CalendarPart | None:
        """The minute of silence as an invitation in ``language``, or None when the stage
        carries none (``calendar = false``)."""
        if not stage.calendar:
            return None
        key = (campaign.id, year, language)
        if key not in self._calendars:
            invite = invitation(self.config, campaign, year, language)
            self._calendars[key] = CalendarPart(invite.filename, invite.to_ical())
        return self._calendars[key]

    def envelope(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        rendered: Rendered,
        now: datetime,
        *,
        is_test: bool = False,
    ) -> Outgoing:
        """What every message of a batch shares; the recipient fields stay empty."""
        sender = self.config.sender
        return Outgoing(
            entry_id=None,
            to_email="",
            to_name="",
            from_email=sender.from_email,
            from_name=sender.from_name,
            rendered=rendered,
            unsubscribe_url="",
            unsubscribe_mailto=sender.unsubscribe_mailto or sender.from_email,
            message_id="",
            date=now,
            campaign=campaign.id,
            year=year,
            stage=stage.id,
            reply_to=sender.reply_to,
            is_test=is_test,
            calendar=self.calendar(campaign, stage, year, rendered.language),
        )

    def compose(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        now: datetime,
        key: GroupKey,
        people: Sequence[Person],
        *,
        is_test: bool = False,
    ) -> Composed:
        """People of one group as batches: one batch whose content has placeholders, or
        one batch per person when the templates transform the name or link. Recipients
        carry no entry id yet: a claim names them by subscriber (Batch.claimed).

        A group whose templates do not render raises TemplateProblem (nothing of it can
        go; the caller gives its people back for a later run); a person whose message
        alone does not render, for whatever reason, is in ``failed`` with why, and the
        others go."""
        content = self.group(campaign, stage, year, key)
        if content is None:
            return self._alone(campaign, stage, year, now, people, is_test)
        envelope = self.envelope(campaign, stage, year, content, now, is_test=is_test)
        token, base = self.links.signer.token, self.links.unsubscribe_base
        if is_test:
            act = self.action_url(campaign, year, 0)
            recipients = [
                Recipient(None, p.email, safe_name(p.name), base + token(0), None, True, action_url=act) for p in people
            ]
        elif campaign.action is not None:
            # Outside a test send every person is a subscriber: the ids are never None.
            action = functools.partial(self.action_url, campaign, year)
            recipients = [
                _recipient((0, email, safe_name(name), base + token(sid), None, True, sid, action(sid)))  # type: ignore[arg-type]
                for sid, email, name, _, _ in people
            ]
        else:
            recipients = [
                _recipient((0, email, safe_name(name), base + token(sid), None, True, sid, ""))  # type: ignore[arg-type]
                for sid, email, name, _, _ in people
            ]
        return Composed([Batch(envelope, recipients, personal=True)], [])

    def _alone(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        now: datetime,
        people: Sequence[Person],
        is_test: bool,
    ) -> Composed:
        batches: list[Batch] = []
        failed: list[tuple[int | None, str]] = []
        for p in people:
            link_id = 0 if p.subscriber_id is None else p.subscriber_id
            view = SubscriberView(printable_line(p.name), p.language, p.timezone)
            try:
                rendered = self.render(campaign, stage, year, view, link_id)
            except TemplateProblem as exc:
                failed.append((p.subscriber_id, f"template: {exc}"))
                continue
            except Exception as exc:
                # One person's own data (a zone, a name) fails them alone; the rest go.
                log.debug("message for subscriber %s did not render", p.subscriber_id, exc_info=True)
                failed.append((p.subscriber_id, f"render: {type(exc).__name__}: {one_line(str(exc))[:300]}"))
                continue
            envelope = self.envelope(campaign, stage, year, rendered, now, is_test=is_test)
            url = self.links.unsubscribe(link_id)
            recipient = Recipient(None if is_test else 0, p.email, p.name, url, None, False, p.subscriber_id)
            batches.append(Batch(envelope, [recipient], personal=False))
        return Composed(batches, failed)
