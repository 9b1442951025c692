"""What the commands and the daemon call to send: a stage now, whatever is due, a
deliberate resend, a test message, a dry run, a preview. Each takes ``now``; none reads
the clock.

Every path renders through one :class:`~scheduler.content.compose.Composer` and hands
batches to one :meth:`Delivery.deliver`; a stage's own engine (read, group, claim,
prepare, dispatch, record) is :class:`~scheduler.delivery.engine.StageSend`.

Every claimed entry ends in one state: ``sent`` (with the transport's message id),
``failed`` (with the reason), ``skipped`` (with why) or ``unknown`` (in flight when the
process died, or the transport's answer was lost). Because the claim is written before
the send, a killed run never resends what it may already have sent.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scheduler.config import CampaignConfig, Config
from scheduler.content.compose import Composer, Person
from scheduler.content.groups import Batch, group_key
from scheduler.content.links import Signer
from scheduler.content.message import Rendered
from scheduler.content.templates import SubscriberView
from scheduler.core import planning
from scheduler.core.outcomes import Result, State
from scheduler.delivery.engine import GroupsNotRendered, StageSend
from scheduler.delivery.pacing import RateLimiter
from scheduler.delivery.suppressions import SuppressionSync
from scheduler.errors import TransportError, UsageError
from scheduler.store import Store
from scheduler.transports import make_transport
from scheduler.transports.base import Transport

log = logging.getLogger(__name__)


@dataclass
class RunCounts:
    campaign: str
    year: int
    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None
    #: eligible entries when the run started (for progress), when it was counted
    expected: int | None = None
    #: the subscriber zones this run covered; None for all
    zones: list[str] | None = None
    #: why some subscribers were given back unsent: their message does not render
    not_rendered: str | None = None

    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing to send"
        where = f" ({', '.join(self.zones)})" if self.zones else ""
        return f"{self.campaign} {self.year} {self.stage}{where}: {parts}"


ProgressHook = Callable[[RunCounts, int], None]


@dataclass(frozen=True)
class TestSent:
    subject: str
    language: str
    transport: str
    result: Result


@dataclass(frozen=True)
class DryRun:
    campaign: str
    year: int
    stage: str
    #: subscribers per language actually sent (after any fallback)
    languages: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.languages.values())


@dataclass(frozen=True)
class DueLine:
    #: "send" or "skip"
    action: str
    slot: planning.Slot
    subscribers: int
    why: str

    def describe(self) -> str:
        s = self.slot
        verb = "would send" if self.action == "send" else "would skip"
        return f"{verb} {s.campaign} {s.year} {s.stage} in {s.zone}: {self.subscribers} subscriber(s); {self.why}"


class Delivery:
    """Sending for one config. ``transport``, when given, is used for every run (the
    commands build one, so a missing secret stops them before anything starts);
    otherwise each run builds a fresh one from the config (the daemon)."""

    def __init__(
        self,
        config: Config,
        store: Store | None,
        signer: Signer,
        *,
        transport: Transport | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: ProgressHook | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self._transport = transport
        self.should_stop = should_stop
        self.on_progress = on_progress
        self.composer = Composer(config, signer)
        self.limiter = limiter or RateLimiter(config.transport.rate_per_second)
        self._open: Transport | None = None
        self.suppressions = SuppressionSync(config, signer)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise UsageError("this command has no database")  # a bug, never a user's doing
        return self._store

    @contextmanager
    def session(self) -> Iterator[Transport]:
        """The transport, open, for everything inside; nested sessions share it."""
        if self._open is not None:
            yield self._open
            return
        transport = self._transport or make_transport(self.config.transport, self.config.base_dir)
        with transport:
            self._open = transport
            try:
                yield transport
            finally:
                self._open = None

    def deliver(self, transport: Transport, batch: Batch, prepared: Any = None) -> list[Result]:
        """Pace, send, and turn a non-fatal error into ``failed``: every batch goes out
        here, from any thread."""
        self.limiter.acquire(len(batch))
        try:
            return transport.send_group(batch, prepared)
        except TransportError as exc:
            if exc.fatal:
                raise
            return Transport.all_of(batch, State.FAILED, reason=str(exc))

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
        result = RunCounts(campaign.id, year, stage.id, zones=zones)
        self.composer.preflight(campaign, stage, year)
        if self.on_progress:
            result.expected = self.store.count_unsent(campaign.id, year, stage.id, zones)
            self.on_progress(result, 0)
        with self.session() as transport:
            # Nobody SendGrid suppressed is claimed: a failed sync stops the run (exit 3).
            self.suppressions.before_run(transport, self.store, now)
            try:
                StageSend(self, transport, campaign, stage, year, now, zones, run_id, result).run()
            except GroupsNotRendered as exc:
                # The rest of the stage went out and is recorded; the groups whose message
                # does not render were given back. The run goes on to other stages and
                # reports them (exit 1, README: exit codes).
                result.not_rendered = str(exc)
                log.error("%s", exc)
        if result.stopped is None and self.should_stop():
            result.stopped = "stopped by signal after the batch in flight"
        log.info("%s", result.describe())
        return result

    def resend(self, campaign_id: str, stage_id: str, year: int, state: State, now: datetime) -> tuple[int, RunCounts]:
        """Send again, on purpose, the entries left ``unknown`` or ``failed``: how many
        were released, and the run that sent them."""
        campaign = self.config.get_campaign(campaign_id)
        campaign.get_stage(stage_id)
        entries = self.store.entries(campaign.id, year, stage_id, state)
        released = self.store.forget_entries([e["id"] for e in entries], state)
        return released, self.send_stage(campaign.id, stage_id, year, now)

    def dry_run(self, campaign_id: str, stage_id: str, year: int) -> DryRun:
        """What ``send`` would do now, rendered and counted; nothing written."""
        campaign = self.config.get_campaign(campaign_id)
        stage = campaign.get_stage(stage_id)
        self.composer.preflight(campaign, stage, year)
        tpl = self.composer.templates(campaign)
        langs: Counter[str] = Counter()
        for c in self.store.iter_unsent(campaign.id, year, stage.id):
            langs[tpl.language_for(c.language, stage.id)] += 1
        return DryRun(campaign.id, year, stage.id, dict(langs))

    def send_coming_year(self, now: datetime) -> list[RunCounts]:
        """Every stage of every campaign for its coming year, now (the demo)."""
        results = []
        with self.session():
            for campaign in self.config.campaign:
                year = campaign.resolve_year(None, now)
                for stage in campaign.stage:
                    results.append(self.send_stage(campaign.id, stage.id, year, now))
        return results

    def record_run(
        self,
        command: str,
        started: datetime,
        finished: datetime,
        results: list[RunCounts],
        pretend: datetime | None = None,
    ) -> None:
        """Runs that did something go in the run table, for ``status``; a run-due with
        nothing due every minute from cron leaves no row. ``started`` is the real
        clock's; a pretend ``--now`` is written beside it, never in its place."""
        if results:
            run_id = uuid.uuid4().hex[:12]
            summary = "; ".join(r.describe() for r in results)
            if pretend is not None:
                summary = f"as of --now {pretend:%Y-%m-%d %H:%M} UTC: {summary}"
            self.store.start_run(run_id, command, started)
            self.store.finish_run(run_id, summary, finished)

    # -- what cron calls -------------------------------------------------------------

    def run_due(self, now: datetime, run_id: str | None = None) -> list[RunCounts]:
        """Send each stage to each zone whose local send time has come; record as skipped
        whoever a slot past its late cutoff missed. Idempotent: with nothing due it only
        reads, and opens no transport."""
        run_id = run_id or uuid.uuid4().hex[:12]
        zones = self.store.active_zones()
        out: list[RunCounts] = []
        for campaign in self.config.campaign:
            the_plan = planning.plan(campaign, zones, now)
            # Per stage, one grouped read says which zones have anyone waiting; a zone
            # with nobody is not touched (BENCHMARKS.md, status, count and run-due).
            waiting_in = _UnsentByZone(self.store, campaign.id)
            for slot in the_plan.late:
                if not waiting_in(slot.year, slot.stage).get(slot.zone):
                    continue
                skipped = self._skip_late(campaign, slot, run_id, now)
                if skipped is not None:
                    out.append(skipped)
            groups: dict[tuple[int, str], list[str]] = {}
            for slot in the_plan.due:
                groups.setdefault((slot.year, slot.stage), []).append(slot.zone)
            for (year, stage_id), stage_zones in sorted(groups.items()):
                if self.should_stop():
                    break
                # Only zones with someone waiting: a zone already sent is not named again.
                unsent = self.store.unsent_by_zone(campaign.id, year, stage_id)
                waiting = [z for z in stage_zones if unsent.get(z)]
                if waiting:
                    out.append(self.send_stage(campaign.id, stage_id, year, now, zones=waiting, run_id=run_id))
        return out

    def due_now(self, now: datetime) -> list[DueLine]:
        """What ``run_due(now)`` would do, per stage and zone, without writing: whom it
        would send to and whom it would skip, and why. ``run-due --dry-run``."""
        zones = self.store.active_zones()
        out: list[DueLine] = []
        for campaign in self.config.campaign:
            the_plan = planning.plan(campaign, zones, now)
            waiting_in = _UnsentByZone(self.store, campaign.id)
            for slot, action in [(s, "skip") for s in the_plan.late] + [(s, "send") for s in the_plan.due]:
                n = waiting_in(slot.year, slot.stage).get(slot.zone, 0)
                if n and action == "skip":
                    # Only those who had consented by the cutoff are skipped.
                    n = self.store.count_unsent(campaign.id, slot.year, slot.stage, [slot.zone], slot.cutoff)
                if n:
                    why = slot.why_late(now) if action == "skip" else f"due {slot.due:%Y-%m-%d %H:%M} UTC"
                    out.append(DueLine(action, slot, n, why))
        return out

    def first_due(self, campaign_id: str, stage_id: str, year: int) -> datetime:
        """When a stage first goes out in a year, in the earliest subscriber zone."""
        campaign = self.config.get_campaign(campaign_id)
        zones = self.store.active_zones() or [campaign.timezone]
        return min(s.due for s in planning.slots(campaign, [year], zones) if s.stage == stage_id)

    def _skip_late(self, campaign: CampaignConfig, slot: planning.Slot, run_id: str, now: datetime) -> RunCounts | None:
        n = self.store.skip_unsent(
            campaign.id,
            slot.year,
            slot.stage,
            reason=slot.why_late(now),
            claim_id=f"{run_id}.skip",
            transport=self._transport.name if self._transport else self.config.transport.kind,
            now=now,
            zones=[slot.zone],
            consented_before=slot.cutoff,
        )
        if not n:
            return None
        log.warning(
            "%s %s %s: %d subscriber(s) in %s skipped: %s",
            campaign.id,
            slot.year,
            slot.stage,
            n,
            slot.zone,
            slot.why_late(now),
        )
        skipped = RunCounts(campaign.id, slot.year, slot.stage, zones=[slot.zone])
        skipped.counts["skipped"] = n
        return skipped

    # -- one message, looked at or sent on purpose ------------------------------------

    def preview(
        self,
        campaign_id: str,
        stage_id: str,
        year: int,
        *,
        email: str | None = None,
        language: str | None = None,
        zone: str | None = None,
    ) -> Rendered:
        """Exactly what one subscriber (``email``) or a sample one would get."""
        campaign = self.config.get_campaign(campaign_id)
        stage = campaign.get_stage(stage_id)
        sid, name = 0, ""
        if email:
            row = self.store.get_subscriber(email)
            if row is None:
                raise UsageError(f"no subscriber {email!r}")
            sid, name = row["id"], row["name"]
            language, zone = language or row["language"], zone or row["timezone"]
        lang = campaign.choose_language(language)
        tz = campaign.choose_zone(zone)
        return self.composer.render(campaign, stage, year, SubscriberView(name, lang, tz), sid)

    def send_test(
        self,
        campaign_id: str,
        stage_id: str,
        year: int,
        now: datetime,
        *,
        to: str,
        name: str = "",
        language: str | None = None,
        zone: str | None = None,
    ) -> TestSent:
        """One real message to ``to``, through the configured transport, rendered as a
        send renders it, marked as a test and never written to the ledger."""
        campaign = self.config.get_campaign(campaign_id)
        stage = campaign.get_stage(stage_id)
        person = Person(None, to, name, campaign.choose_language(language), campaign.choose_zone(zone))
        key = group_key(person.language, person.timezone, person.name)
        composed = self.composer.compose(campaign, stage, year, now, key, [person], is_test=True)
        if composed.failed:
            raise UsageError(f"the test message does not render: {composed.failed[0][1]}")
        (batch,) = composed.batches
        with self.session() as transport:
            (result,) = self.deliver(transport, batch)
        rendered = batch.fill(batch.recipients[0])
        subject = batch.messages()[0].subject
        return TestSent(subject, rendered.language, transport.name, result)


class _UnsentByZone:
    """:meth:`Store.unsent_by_zone` of one campaign, read once per (year, stage) for a
    pass over the plan. A zone's own skip or send changes only that zone's count, and
    each zone is looked at once, so the first read stands for the pass."""

    def __init__(self, store: Store, campaign: str) -> None:
        self.store, self.campaign = store, campaign
        self._seen: dict[tuple[int, str], dict[str, int]] = {}

    def __call__(self, year: int, stage: str) -> dict[str, int]:
        if (year, stage) not in self._seen:
            self._seen[year, stage] = self.store.unsent_by_zone(self.campaign, year, stage)
        return self._seen[year, stage]
