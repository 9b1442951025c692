"""Rendering for sending: one subscriber's message, or once per content group.

A content group is (language, zone, has a name): everyone in it gets the same text but
for their name and unsubscribe link, so SendGrid can carry those as substitutions
(issue 3). The group is rendered with sentinels in their place; a template that
transforms the name or link (``|upper``, ``|truncate``) fails the sentinel check and
the group falls back to rendering each recipient. No database: ``send-test`` uses it.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.message import Outgoing, make_message_id, one_line
from scheduler.render import Rendered, SubscriberView, TemplateSet, build_context, unsubscribe_url
from scheduler.store import Claimed
from scheduler.tokens import Signer
from scheduler.transports.base import NAME_HTML, NAME_TEXT, UNSUB_HTML, UNSUB_TEXT, html_value

GroupKey = tuple[str, str, bool]  # (language, zone, has a name)

# A second sentinel pair, of other lengths and case: a group's rendering is trusted only
# if swapping the first pair for this one gives exactly the second rendering, so a
# template that upper-cases, truncates, measures or URL-encodes the name falls back.
_CHECK_NAME = "%ANV-Check-Name-Longer%"
_CHECK_UNSUB = "%ANV-Check-Unsub-Link-Longer%"


class Renderer:
    """Templates and unsubscribe links; no database, so ``send-test`` can use it too."""

    def __init__(self, config: Config, signer: Signer) -> None:
        self.config = config
        self.signer = signer
        self._templates: dict[str, TemplateSet] = {}

    def templates(self, campaign: CampaignConfig) -> TemplateSet:
        if campaign.id not in self._templates:
            self._templates[campaign.id] = TemplateSet(self.config, campaign)
        return self._templates[campaign.id]

    def render_for(
        self, campaign: CampaignConfig, stage: StageConfig, year: int, view: SubscriberView, subscriber_id: int
    ) -> tuple[Rendered, str]:
        url = unsubscribe_url(self.config, self.signer.token(subscriber_id))
        ctx = build_context(self.config, campaign, stage, year, view, url)
        return self.templates(campaign).render(stage.id, ctx), url

    def outgoing(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        claimed: Claimed,
        now: datetime,
        *,
        is_test: bool = False,
    ) -> Outgoing:
        view = SubscriberView(one_line(claimed.name), claimed.language, claimed.timezone)
        rendered, url = self.render_for(campaign, stage, year, view, claimed.subscriber_id)
        return self.proto_for(campaign, stage, year, rendered, now, is_test=is_test, claimed=claimed, url=url)

    def proto_for(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        rendered: Rendered,
        now: datetime,
        *,
        is_test: bool = False,
        claimed: Claimed | None = None,
        url: str = "",
    ) -> Outgoing:
        sender = self.config.sender
        domain = sender.from_email.rsplit("@", 1)[1]
        entry: int | str = "test" if is_test or claimed is None else claimed.entry_id
        return Outgoing(
            entry_id=None if is_test or claimed is None else claimed.entry_id,
            to_email=claimed.email if claimed else "",
            to_name=claimed.name if claimed else "",
            from_email=sender.from_email,
            from_name=sender.from_name,
            rendered=rendered,
            unsubscribe_url=url,
            unsubscribe_mailto=sender.unsubscribe_mailto or sender.from_email,
            message_id=make_message_id(campaign.id, year, stage.id, entry, domain) if claimed else "",
            date=now,
            campaign=campaign.id,
            year=year,
            stage=stage.id,
            reply_to=sender.reply_to,
            is_test=is_test,
        )

    def group_content(self, campaign: CampaignConfig, stage: StageConfig, year: int, key: GroupKey) -> Rendered | None:
        """The group's rendering with sentinels, or None when the templates do more with
        the name or link than print them (then every recipient is rendered alone)."""
        language, zone, has_name = key
        tpl = self.templates(campaign)

        def render(name: str, url: str) -> Rendered:
            view = SubscriberView(name if has_name else "", language, zone)
            return tpl.render(stage.id, build_context(self.config, campaign, stage, year, view, url))

        first = render(NAME_TEXT, UNSUB_TEXT)
        check = render(_CHECK_NAME, _CHECK_UNSUB)
        for a, b in ((first.subject, check.subject), (first.text, check.text), (first.html, check.html)):
            if a.replace(NAME_TEXT, _CHECK_NAME).replace(UNSUB_TEXT, _CHECK_UNSUB) != b:
                return None
        # The HTML part gets its own tokens: its values are HTML-escaped.
        html_part = first.html.replace(NAME_TEXT, NAME_HTML)
        base = unsubscribe_url(self.config, "")
        if html_value(base) != base:
            html_part = html_part.replace(UNSUB_TEXT, UNSUB_HTML)
        return Rendered(subject=first.subject, text=first.text, html=html_part, language=first.language)
