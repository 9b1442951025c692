"""Sending a stage exactly once: claim a batch in the ledger, render, hand it to the
transport, record every answer. Takes ``now``; reads no clock.

Every claimed entry ends in one state: ``sent`` (with the transport's message id),
``failed`` (with the reason), ``skipped`` (with why) or ``unknown`` (in flight when the
process died, or the transport's answer was lost). Because the claim is written before
the send, a killed run never resends what it may already have sent.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler import planner
from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.errors import TemplateProblem, TransportError
from scheduler.message import Outgoing, make_message_id
from scheduler.models import State
from scheduler.render import Rendered, SubscriberView, TemplateSet, build_context, unsubscribe_url
from scheduler.store import Claimed, Result, Store
from scheduler.tokens import Signer
from scheduler.transports.base import Transport

log = logging.getLogger("scheduler.sender")


@dataclass
class RunCounts:
    campaign: str
    year: int
    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None

    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing to send"
        return f"{self.campaign} {self.year} {self.stage}: {parts}"


ProgressHook = Callable[[RunCounts, int], None]


class Sender:
    def __init__(
        self,
        config: Config,
        store: Store,
        transport: Transport,
        signer: Signer,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.signer = signer
        self.should_stop = should_stop
        self.on_progress = on_progress
        self._templates: dict[str, TemplateSet] = {}

    def templates(self, campaign: CampaignConfig) -> TemplateSet:
        if campaign.id not in self._templates:
            self._templates[campaign.id] = TemplateSet(self.config, campaign)
        return self._templates[campaign.id]

    # -- one message ---------------------------------------------------------------

    def render_for(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        view: SubscriberView,
        subscriber_id: int,
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
        view = SubscriberView(claimed.name, claimed.language, claimed.timezone)
        rendered, url = self.render_for(campaign, stage, year, view, claimed.subscriber_id)
        sender = self.config.sender
        domain = sender.from_email.rsplit("@", 1)[1]
        entry: int | str = claimed.entry_id if not is_test else "test"
        return Outgoing(
            entry_id=None if is_test else claimed.entry_id,
            to_email=claimed.email,
            to_name=claimed.name,
            from_email=sender.from_email,
            from_name=sender.from_name,
            rendered=rendered,
            unsubscribe_url=url,
            unsubscribe_mailto=sender.unsubscribe_mailto or sender.from_email,
            message_id=make_message_id(campaign.id, year, stage.id, entry, domain),
            date=now,
            campaign=campaign.id,
            year=year,
            stage=stage.id,
            reply_to=sender.reply_to,
            is_test=is_test,
        )

    # -- a stage -------------------------------------------------------------------

    def preflight(self, campaign: CampaignConfig, stage: StageConfig, year: int) -> None:
        """Render every language once before claiming anything: a broken template stops
        the run here instead of failing every subscriber."""
        for lang in campaign.languages:
            view = SubscriberView("Preflight", lang, campaign.timezone)
            self.render_for(campaign, stage, year, view, 0)

    def send_stage(
        self,
        campaign_id: str,
        stage_id: str,
        year: int,
        now: datetime,
        *,
        zones: Iterable[str] | None = None,
        run_id: str | None = None,
    ) -> RunCounts:
        campaign = self.config.get_campaign(campaign_id)
        stage = campaign.get_stage(stage_id)
        zones = list(zones) if zones is not None else None
        run_id = run_id or uuid.uuid4().hex[:12]
        result = RunCounts(campaign.id, year, stage.id)
        self.preflight(campaign, stage, year)
        batch_size = min(self.config.transport.batch_size, self.transport.max_batch)
        after, seq = 0, 0
        while not self.should_stop():
            seq += 1
            claimed = self.store.claim_batch(
                campaign.id,
                year,
                stage.id,
                claim_id=f"{run_id}.{seq}",
                transport=self.transport.name,
                limit=batch_size,
                after=after,
                now=now,
                zones=zones,
            )
            if not claimed:
                break
            after = claimed[-1].subscriber_id
            results = self._send_claimed(campaign, stage, year, claimed, now)
            self.store.record(results, now)
            result.counts.update(r.state.value for r in results)
            if self.on_progress:
                self.on_progress(result, len(results))
        if self.should_stop():
            result.stopped = "stopped by signal after the batch in flight"
        log.info("%s", result.describe())
        return result

    def _send_claimed(
        self,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        claimed: list[Claimed],
        now: datetime,
    ) -> list[Result]:
        messages: list[Outgoing] = []
        results: list[Result] = []
        for c in claimed:
            try:
                messages.append(self.outgoing(campaign, stage, year, c, now))
            except TemplateProblem as exc:
                results.append(Result(c.entry_id, State.FAILED, None, f"template: {exc}"))
        try:
            results.extend(self.transport.send_batch(messages))
        except TransportError as exc:
            if exc.fatal:
                # Nothing of this batch went out: give the claims back so a corrected
                # run sends them, then stop the whole run.
                self.store.release([c.entry_id for c in claimed])
                raise
            results.extend(Transport.failed_all(messages, str(exc)))
        return results

    # -- what cron calls -------------------------------------------------------------

    def run_due(self, now: datetime, run_id: str | None = None) -> list[RunCounts]:
        """Send each stage to each zone whose local send time has come; record as skipped
        whoever a slot past its late cutoff missed. Idempotent: with nothing due it only
        reads."""
        run_id = run_id or uuid.uuid4().hex[:12]
        zones = self.store.active_zones()
        out: list[RunCounts] = []
        for campaign in self.config.campaign:
            the_plan = planner.plan(campaign, zones, now)
            for slot in the_plan.late:
                local_due = slot.due.astimezone(ZoneInfo(slot.zone))
                n = self.store.skip_unsent(
                    campaign.id,
                    slot.year,
                    slot.stage,
                    reason=(
                        f"past the late cutoff: due {local_due:%Y-%m-%d %H:%M} {slot.zone}, "
                        f"not sent by {campaign.late_cutoff_hours} h later"
                    ),
                    claim_id=f"{run_id}.skip",
                    transport=self.transport.name,
                    now=now,
                    zones=[slot.zone],
                    consented_before=slot.cutoff,
                )
                if n:
                    log.warning(
                        "%s %s %s: %d subscriber(s) in %s skipped, past the late cutoff",
                        campaign.id,
                        slot.year,
                        slot.stage,
                        n,
                        slot.zone,
                    )
                    skipped = RunCounts(campaign.id, slot.year, slot.stage)
                    skipped.counts["skipped"] = n
                    out.append(skipped)
            groups: dict[tuple[int, str], list[str]] = {}
            for slot in the_plan.due:
                groups.setdefault((slot.year, slot.stage), []).append(slot.zone)
            for (year, stage_id), stage_zones in sorted(groups.items()):
                if self.should_stop():
                    break
                if not self.store.count_unsent(campaign.id, year, stage_id, stage_zones):
                    continue
                out.append(self.send_stage(campaign.id, stage_id, year, now, zones=stage_zones, run_id=run_id))
        return out
