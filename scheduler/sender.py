"""Sending a stage exactly once: claim entries in the ledger, render once per content
group, hand batches to the transport, record every answer. Takes ``now``; reads no clock.

Every claimed entry ends in one state: ``sent`` (with the transport's message id),
``failed`` (with the reason), ``skipped`` (with why) or ``unknown`` (in flight when the
process died, or the transport's answer was lost). Because the claim is written before
the send, a killed run never resends what it may already have sent. (A monotonic clock
paces the ledger writes and progress; nothing about what is due depends on it.)

Issue 3: recipients who share a content group (campaign, stage, year, language, zone,
and whether they have a name) are rendered once with sentinels and sent together; a
template that transforms the name or the link falls back to rendering per recipient.
Batches go out on ``transport.concurrency`` threads, paced by ``rate_per_second``; the
ledger is written only from the calling thread (per batch, or for SendGrid per flush of
many batches: see _StageRun._finish). Names are folded to one line before rendering, so
the group path and the per-recipient path print the same name.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler import planner
from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.errors import TemplateProblem, TransportError
from scheduler.message import Outgoing
from scheduler.models import State
from scheduler.render import Rendered, SubscriberView, unsubscribe_url
from scheduler.renderer import GroupKey, Renderer
from scheduler.store import Claimed, Result, Store
from scheduler.tokens import Signer
from scheduler.transports.base import (
    Batch,
    RateLimiter,
    Recipient,
    Transport,
    clean_name,
)

log = logging.getLogger("scheduler.sender")

#: longest a recorded answer waits in memory before the ledger write
FLUSH_SECONDS = 1.0


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.signer = signer
        self.should_stop = should_stop
        self.on_progress = on_progress
        self.renderer = Renderer(config, signer)
        self.limiter = limiter or RateLimiter(config.transport.rate_per_second)
        #: paces ledger writes and progress only; what is due is decided by ``now``
        self.clock = clock

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
        run = _StageRun(self, campaign, stage, year, now, zones, run_id, result)
        run.run()
        if result.stopped is None and self.should_stop():
            result.stopped = "stopped by signal after the batch in flight"
        log.info("%s", result.describe())
        return result

    def _deliver(self, batch: Batch) -> list[Result]:
        """In a worker thread: pace, send, and turn a non-fatal error into failed."""
        self.limiter.acquire(len(batch))
        try:
            return self.transport.send_group(batch)
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


class _StageRun:
    """One send_stage: claim, group, dispatch, record. Claimed recipients wait per group
    until a full batch forms (or the claims run out), so many groups still make full
    requests; ``4 x claim_size`` bounds how many may wait."""

    def __init__(
        self,
        sender: Sender,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        now: datetime,
        zones: list[str] | None,
        run_id: str,
        result: RunCounts,
    ) -> None:
        self.s = sender
        self.campaign, self.stage, self.year, self.now = campaign, stage, year, now
        self.zones, self.run_id, self.result = zones, run_id, result
        tc = sender.config.transport
        self.batch_size = max(1, min(tc.batch_size, sender.transport.max_batch))
        self.claim_size = max(tc.claim_size, self.batch_size)
        self.concurrency = tc.concurrency
        self.waiting: dict[GroupKey, list[Claimed]] = {}
        self.n_waiting = 0
        self.contents: dict[GroupKey, Rendered | None] = {}
        self.proto: dict[GroupKey, Outgoing] = {}
        self.inflight: deque[tuple[Future[list[Result]], Batch]] = deque()
        self.fatal: TransportError | None = None
        self.seq = 0
        self.buffer: list[Result] = []
        self.grouping = sender.transport.groups_content
        self.clock = sender.clock
        self.flushed = self.clock()

    def run(self) -> None:
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="send") if self.concurrency > 1 else None
        try:
            after = 0
            last = self.s.store.max_subscriber_id()
            while after < last and not self.fatal and not self.s.should_stop():
                # An id window, not ORDER BY .. LIMIT: see Store.candidates_range (issue 3).
                upto = after + self.claim_size
                claimed = self.s.store.candidates_range(
                    self.campaign.id,
                    self.year,
                    self.stage.id,
                    after=after,
                    upto=upto,
                    zones=self.zones,
                    grouped=self.grouping,
                )
                after = upto
                for c in claimed:
                    self.waiting.setdefault(_key(c), []).append(c)
                self.n_waiting += len(claimed)
                # Only a transport that sends a group per request gains from waiting for
                # full groups; the others send what was read at once. Either way nothing
                # waiting is claimed yet (see _claim), so a kill loses none of it.
                self._dispatch(pool, flush=not self.grouping or self.n_waiting > 4 * self.claim_size)
            if not self.fatal and not self.s.should_stop():
                self._dispatch(pool, flush=True)
            self._drain(pool, keep=0)
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            # After an interruption (Ctrl-C, a bug): record what finished, and give
            # back batches that never started. One that failed mid-way stays unknown.
            for future, batch in self.inflight:
                if future.cancelled():
                    self.s.store.release(batch.entry_ids())
                elif future.exception() is None:
                    self.buffer.extend(future.result())
            self.inflight.clear()
            self._flush()
        if self.fatal:
            raise self.fatal

    def _dispatch(self, pool: ThreadPoolExecutor | None, *, flush: bool) -> None:
        for key in list(self.waiting):
            group = self.waiting[key]
            while group and (len(group) >= self.batch_size or flush):
                if self.fatal or self.s.should_stop():
                    return
                chunk, group[:] = group[: self.batch_size], group[self.batch_size :]
                self.n_waiting -= len(chunk)
                chunk = self._claim(chunk)
                for batch in self._batches(key, chunk):
                    self._submit(pool, batch)
            if not group:
                del self.waiting[key]

    def _claim(self, chunk: list[Claimed]) -> list[Claimed]:
        """Claim a batch right before it goes out, so after a SIGKILL only batches in
        flight read ``unknown`` (issue 2, section 7); what another sender claimed
        meanwhile is dropped from the batch."""
        self.seq += 1
        return self.s.store.claim_subscribers(
            self.campaign.id,
            self.year,
            self.stage.id,
            chunk,
            claim_id=f"{self.run_id}.{self.seq}",
            transport=self.s.transport.name,
            now=self.now,
        )

    def _batches(self, key: GroupKey, chunk: list[Claimed]) -> Iterator[Batch]:
        if key not in self.contents:
            try:
                self.contents[key] = self.s.renderer.group_content(self.campaign, self.stage, self.year, key)
            except TemplateProblem as exc:
                self._finish([Result(c.entry_id, State.FAILED, None, f"template: {exc}") for c in chunk])
                return
            content = self.contents[key]
            if content is not None:
                self.proto[key] = self.s.renderer.proto_for(self.campaign, self.stage, self.year, content, self.now)
            else:
                log.info("%s %s: templates transform the name or link; rendering each recipient", key, self.stage.id)
        token, base = self.s.signer.token, unsubscribe_url(self.s.config, "")
        if self.contents[key] is None:
            for c in chunk:
                try:
                    out = self.s.renderer.outgoing(self.campaign, self.stage, self.year, c, self.now)
                except TemplateProblem as exc:
                    self._finish([Result(c.entry_id, State.FAILED, None, f"template: {exc}")])
                    continue
                recipient = Recipient(c.entry_id, c.email, c.name, out.unsubscribe_url, out.message_id)
                yield Batch(proto=out, recipients=[recipient], personal=False)
            return
        # No address twice in one request (SendGrid rejects it): a repeat waits for the
        # next batch. Addresses are unique per subscriber, so this is a guard only.
        rest = chunk
        while rest:
            seen: set[str] = set()
            recipients, later = [], []
            for c in rest:
                addr = c.email.lower()
                if addr in seen:
                    later.append(c)
                    continue
                seen.add(addr)
                recipients.append(
                    Recipient(c.entry_id, c.email, clean_name(c.name), base + token(c.subscriber_id), None, True)
                )
            yield Batch(proto=self.proto[key], recipients=recipients, personal=True)
            rest = later

    def _submit(self, pool: ThreadPoolExecutor | None, batch: Batch) -> None:
        if pool is None:
            future: Future[list[Result]] = Future()
            try:
                future.set_result(self.s._deliver(batch))
            except TransportError as exc:
                future.set_exception(exc)
            self.inflight.append((future, batch))
            self._drain(None, keep=0)
            return
        self.inflight.append((pool.submit(self.s._deliver, batch), batch))
        self._drain(pool, keep=2 * self.concurrency)

    def _drain(self, pool: ThreadPoolExecutor | None, *, keep: int) -> None:
        """Record finished batches, oldest first, until at most ``keep`` are in flight."""
        while len(self.inflight) > keep:
            future, batch = self.inflight.popleft()
            if self.fatal and future.cancel():
                self.s.store.release(batch.entry_ids())
                continue
            try:
                results = future.result()
            except TransportError as exc:
                if not exc.fatal:
                    raise
                # What of this batch did not go out is given back, so a corrected run
                # sends it; no new work is taken (issue 3: 401/403).
                done: list[Result] = getattr(exc, "done", [])
                self._finish(done)
                answered = {r.entry_id for r in done}
                self.s.store.release([e for e in batch.entry_ids() if e not in answered])
                if self.fatal is None:
                    self.fatal = exc
                    for other, _ in self.inflight:
                        other.cancel()  # released as each is popped below
                keep = 0
                continue
            self._finish(results)

    def _finish(self, results: list[Result]) -> None:
        """For a grouping transport (SendGrid), answers wait in memory and are written
        together: once ``claim_size`` of them are in, or a second has passed (see
        Store.record_all for why). Until then their entries read ``unknown``, the safe
        side: never resent automatically. Other transports record each batch."""
        self.buffer.extend(results)
        if not self.grouping or len(self.buffer) >= self.claim_size or self.clock() - self.flushed >= FLUSH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        self.flushed = self.clock()
        if not self.buffer:
            return
        results, self.buffer = self.buffer, []
        self.s.store.record_all(results, self.now)
        self.result.counts.update(r.state.value for r in results)
        if self.s.on_progress:
            self.s.on_progress(self.result, len(results))


def _key(c: Claimed) -> GroupKey:
    # Named means "not only whitespace", as one_line() would leave it non-empty.
    return (c.language, c.timezone, bool(c.name) and not c.name.isspace())
