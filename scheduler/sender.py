"""Sending a stage exactly once: claim entries in the ledger, render once per content
group, hand batches to the transport, record every answer. Takes ``now``; reads no clock.

Every claimed entry ends in one state: ``sent`` (with the transport's message id),
``failed`` (with the reason), ``skipped`` (with why) or ``unknown`` (in flight when the
process died, or the transport's answer was lost). Because the claim is written before
the send, a killed run never resends what it may already have sent.

Issue 3: recipients who share a content group (campaign, stage, year, language, zone,
and whether they have a name) are rendered once with sentinels and sent together; a
template that transforms the name or the link falls back to rendering per recipient.
How one stage is read, claimed, sent and recorded is :mod:`scheduler.stagerun`. Names
are folded to one line before rendering, so the group path and the per-recipient path
print the same name.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from scheduler import planner
from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.errors import TransportError
from scheduler.models import State
from scheduler.render import SubscriberView
from scheduler.renderer import Renderer
from scheduler.stagerun import StageRun
from scheduler.store import Result, Store
from scheduler.tokens import Signer
from scheduler.transports.base import Batch, RateLimiter, Transport

log = logging.getLogger("scheduler.sender")


@dataclass
class RunCounts:
    campaign: str
    year: int
    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None
    #: eligible entries when the run started (for progress), when it was counted
    expected: int | None = None

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
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.signer = signer
        self.should_stop = should_stop
        self.on_progress = on_progress
        self.renderer = Renderer(config, signer)
        self.limiter = limiter or RateLimiter(config.transport.rate_per_second)

    def preflight(self, campaign: CampaignConfig, stage: StageConfig, year: int) -> None:
        """Render every language once before claiming anything: a broken template stops
        the run here instead of failing every subscriber."""
        for lang in campaign.languages:
            view = SubscriberView("Preflight", lang, campaign.timezone)
            self.renderer.render_for(campaign, stage, year, view, 0)

    # -- a stage -------------------------------------------------------------------

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
        if self.on_progress:
            result.expected = self.store.count_unsent(campaign.id, year, stage.id, zones)
            self.on_progress(result, 0)
        StageRun(self, campaign, stage, year, now, zones, run_id, result).run()
        if result.stopped is None and self.should_stop():
            result.stopped = "stopped by signal after the batch in flight"
        log.info("%s", result.describe())
        return result

    def _deliver(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """In a worker thread: pace, send, and turn a non-fatal error into failed."""
        self.limiter.acquire(len(batch))
        try:
            return self.transport.send_group(batch, prepared)
        except TransportError as exc:
            if exc.fatal:
                raise
            return Transport.all_of(batch, State.FAILED, reason=str(exc))

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
