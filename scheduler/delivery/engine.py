"""The engine that sends one stage: read, group, claim, prepare, dispatch, record.

Subscribers are read by id window and wait per content group (language, zone, has a
name) until a full batch forms, so many groups still make full requests; ``4 x
claim_size`` bounds how many may wait. Each batch is claimed just before it goes out,
and claimed-but-unanswered batches never exceed ``transport.concurrency``: after a
SIGKILL at most that many read ``unknown`` (README: "Sending, exactly once"), the
ones in flight.

The ledger work runs on two threads of its own: ``ledger-read`` reads the next window
ahead, ``ledger-write`` makes each claim, writing the answers so far in the same
transaction. SQLite does that work with the GIL released, so on two cores it overlaps
the Python that signs unsubscribe links and builds request bodies on the calling
thread: a batch's bodies are built while its claim commits (they name recipients by
subscriber, not by entry), and a claim still completes before its batch is handed to
the transport. With ``concurrency`` 2 or more, the next batch's claim also runs while
this one is handed over. Requests go out on ``concurrency`` threads, paced by
``rate_per_second``. BENCHMARKS.md has the numbers behind each choice.
"""

from __future__ import annotations

import logging
import operator
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scheduler.config import CampaignConfig, StageConfig
from scheduler.content.compose import Composed
from scheduler.content.groups import Batch, GroupKey, group_key
from scheduler.core.outcomes import Result, State
from scheduler.errors import TemplateProblem, TransportError
from scheduler.store import Candidate
from scheduler.transports.base import Transport

if TYPE_CHECKING:
    from scheduler.delivery.runs import Delivery, RunCounts

log = logging.getLogger(__name__)


class GroupsNotRendered(TemplateProblem):
    """Some content groups' messages did not render, so none of them went: their claims
    were given back and those subscribers stay eligible for a run after the template is
    fixed. Raised when the rest of the stage has been sent and recorded; ``result``
    holds its counts. Exit 1 (README: Troubleshooting, exit codes)."""

    def __init__(self, result: RunCounts, held: int, problems: list[str]) -> None:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
        more = f" (and {len(problems) - 1} other problem(s))" if len(problems) > 1 else ""
        super().__init__(
            f"{result.campaign} {result.year} {result.stage}: {held} subscriber(s) not sent and still eligible,"
            f" their message does not render: {problems[0]}{more}" + (f"; the others: {counts}" if counts else "")
        )
        self.result = result
        self.held = held


class StageSend:
    """One stage to everyone eligible, once; :meth:`run` does it."""

    def __init__(
        self,
        delivery: Delivery,
        transport: Transport,
        campaign: CampaignConfig,
        stage: StageConfig,
        year: int,
        now: datetime,
        zones: list[str] | None,
        run_id: str,
        result: RunCounts,
    ) -> None:
        self.delivery = delivery
        self.transport = transport
        self.store = delivery.store
        self.campaign, self.stage, self.year, self.now = campaign, stage, year, now
        self.zones, self.run_id, self.result = zones, run_id, result
        tc = delivery.config.transport
        batching = tc.batching  # config.toml's values, else the transport's defaults
        log.info("%s", batching.describe())
        self.batch_size = max(1, min(batching.batch_size, transport.max_batch))
        self.claim_size = max(tc.claim_size, self.batch_size)
        self.concurrency = batching.concurrency
        self.waiting: dict[GroupKey, list[Candidate]] = {}
        self.n_waiting = 0
        self.inflight: deque[tuple[Future[list[Result]], Batch]] = deque()
        #: answers waiting to go to the ledger thread (see _record)
        self.answers: list[Result] = []
        #: ledger writes not yet known to have landed, oldest first
        self.writes: deque[tuple[Future[Any], list[Result]]] = deque()
        self.fatal: TransportError | None = None
        #: subscribers whose group did not render (given back), and why, once each
        self.held = 0
        self.held_why: list[str] = []
        #: a chunk whose claim is under way, not yet handed to the transport
        self.pending: Iterator[tuple[Batch, Any] | None] | None = None
        self.seq = 0
        self.grouping = transport.groups_content
        # Reads run beside writes: WAL lets a reader go on while a claim commits.
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="ledger-read")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="ledger-write")

    def _stopping(self) -> bool:
        return self.fatal is not None or self.delivery.should_stop()

    def run(self) -> None:
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="send") if self.concurrency > 1 else None
        try:
            last = self.store.max_subscriber_id()
            ahead = self._read(0, last)
            after = 0
            while ahead is not None and not self._stopping():
                candidates = ahead.result()
                after += self.claim_size
                # Read the next window while this one is claimed and sent.
                ahead = self._read(after, last)
                for c in candidates:
                    self.waiting.setdefault(group_key(c.language, c.timezone, c.name), []).append(c)
                self.n_waiting += len(candidates)
                # Only a transport that sends a group per request gains from waiting for
                # full groups; the others send what was read at once. Either way nothing
                # waiting is claimed yet (see _claim), so a kill loses none of it.
                self._dispatch(pool, flush=not self.grouping or self.n_waiting > 4 * self.claim_size)
                self._reap(wait=False)
            if not self._stopping():
                self._dispatch(pool, flush=True)
            self._handover(pool)
            self._drain(pool, keep=0)
        finally:
            self._abandon_pending()
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            # After an interruption (Ctrl-C, a bug): record what finished, and give
            # back batches that never started. One that failed mid-way stays unknown.
            for future, batch in self.inflight:
                if future.cancelled():
                    self.writer.submit(self.store.release, batch.entry_ids())
                elif future.exception() is None:
                    self._record(future.result())
            self.inflight.clear()
            self._write_answers()
            self.reader.shutdown(wait=True, cancel_futures=True)
            self.writer.shutdown(wait=True)
            self._reap(wait=True)
        if self.fatal:
            raise self.fatal
        if self.held:
            raise GroupsNotRendered(self.result, self.held, self.held_why)

    def _abandon_pending(self) -> None:
        """After an error: a chunk claimed but never handed over is given back."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        try:
            for item in pending:
                if item is not None:
                    self.writer.submit(self.store.release, item[0].entry_ids())
        except Exception:  # the claim itself failed: nothing to give back
            log.debug("pending claim failed", exc_info=True)

    def _read(self, after: int, last: int) -> Future[list[Candidate]] | None:
        """Candidates with ``after < id <= after + claim_size``, read on the ledger
        thread; an id window, not ORDER BY .. LIMIT: see Store.candidates_range."""
        if after >= last:
            return None
        return self.reader.submit(
            self.store.candidates_range,
            self.campaign.id,
            self.year,
            self.stage.id,
            after=after,
            upto=after + self.claim_size,
            zones=self.zones,
            grouped=self.grouping,
        )

    def _dispatch(self, pool: ThreadPoolExecutor | None, *, flush: bool) -> None:
        for key in list(self.waiting):
            group = self.waiting[key]
            while group and (len(group) >= self.batch_size or flush):
                if self._stopping():
                    return
                chunk, group[:] = group[: self.batch_size], group[self.batch_size :]
                self.n_waiting -= len(chunk)
                # A claim only when a request slot is free: claimed and unanswered
                # batches never exceed ``concurrency``, so a SIGKILL leaves at most that
                # many unknown. With one slot a batch is claimed, sent and answered
                # before the next claim; with more, the next claim runs while this
                # thread hands the last one over (the ledger thread never waits).
                self._drain(pool, keep=self.concurrency - 1 - (self.pending is not None))
                if self._stopping():  # a fatal answer came in while draining
                    return
                started = self._batches(key, chunk)
                next(started)
                self._handover(pool)
                self.pending = started
                if pool is None:
                    self._handover(pool)
            if not group:
                del self.waiting[key]

    def _claim(self, chunk: list[Candidate]) -> Future[dict[int, int]]:
        """Claim a batch right before it goes out, so after a SIGKILL only batches in
        flight read ``unknown``. The future gives {subscriber id:
        entry id} for the entries won; what another sender claimed meanwhile, or who
        left, is missing from it."""
        self.seq += 1
        # The answers so far go to the ledger in the claim's transaction: one commit
        # per request, while this thread waits for the claim anyway.
        answers, self.answers = self.answers, []
        claiming = self.writer.submit(
            self.store.claim_ids,
            self.campaign.id,
            self.year,
            self.stage.id,
            [c.subscriber_id for c in chunk],
            claim_id=f"{self.run_id}.{self.seq}",
            transport=self.transport.name,
            now=self.now,
            answers=answers,
        )
        if answers:
            self.writes.append((claiming, answers))
        return claiming

    def _batches(self, key: GroupKey, chunk: list[Candidate]) -> Iterator[tuple[Batch, Any] | None]:
        """Start the chunk's claim and, while the ledger thread makes it, everything
        that needs no entry id: the group's rendering, each recipient's name and signed
        link, and the transport's request bodies (they name recipients by subscriber).
        Yields None once started; then, claimed, the batches with what was prepared."""
        claiming = self._claim(chunk)
        problem: TemplateProblem | None = None
        composed = Composed([], [])
        prepared: list[Any] = []
        try:
            try:
                composed = self.delivery.composer.compose(self.campaign, self.stage, self.year, self.now, key, chunk)
            except TemplateProblem as exc:
                problem = exc
            prepared = [self.transport.prepare(b) for b in composed.batches]
        except BaseException:
            # Nothing of this chunk was handed over: give its claim back.
            won = claiming.result()
            self.writer.submit(self.store.release, list(won.values())).result()
            raise
        yield None
        won = claiming.result()
        if problem is not None:
            # The group's own content does not render, so nothing of it went anywhere:
            # give its claims back (they never read ``unknown`` after this run) and say
            # so at the end. Its people are sent by a run after the template is fixed.
            self.writer.submit(self.store.release, list(won.values()))
            self.held += len(won)
            if str(problem) not in self.held_why:
                self.held_why.append(str(problem))
            log.info("%d subscriber(s) not sent, their message does not render: %s", len(won), problem)
            return
        failed = [Result(won[sid], State.FAILED, None, why) for sid, why in composed.failed if sid in won]
        if failed:
            self._finish(failed)
        complete = len(won) == len(chunk)
        for batch, ready in zip(composed.batches, prepared, strict=True):
            # Some were lost to another sender: the transport starts over for them.
            batch = batch.claimed(won, complete=complete)
            if batch.recipients:
                yield batch, ready if complete else None

    def _handover(self, pool: ThreadPoolExecutor | None) -> None:
        """Send the pending chunk's batches, once its claim is in (or give the claim
        back when a fatal error stopped the run meanwhile)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        for item in pending:
            if item is None:
                continue
            batch, prepared = item
            if self.fatal is not None:
                self.writer.submit(self.store.release, batch.entry_ids())
            else:
                self._submit(pool, batch, prepared)

    def _submit(self, pool: ThreadPoolExecutor | None, batch: Batch, prepared: Any) -> None:
        if pool is None:
            future: Future[list[Result]] = Future()
            try:
                future.set_result(self.delivery.deliver(self.transport, batch, prepared))
            except TransportError as exc:
                future.set_exception(exc)
            self.inflight.append((future, batch))
            self._drain(None, keep=0)
            return
        self.inflight.append((pool.submit(self.delivery.deliver, self.transport, batch, prepared), batch))

    def _drain(self, pool: ThreadPoolExecutor | None, *, keep: int) -> None:
        """Record finished batches, oldest first, until at most ``keep`` are in flight."""
        while len(self.inflight) > keep:
            future, batch = self.inflight.popleft()
            if self.fatal and future.cancel():
                self.writer.submit(self.store.release, batch.entry_ids())
                continue
            try:
                results = future.result()
            except TransportError as exc:
                if not exc.fatal:
                    raise
                # What of this batch did not go out is given back, so a corrected run
                # sends it; no new work is taken (a refused key: README, Transports).
                done: list[Result] = getattr(exc, "done", [])
                self._finish(done)
                answered = {r.entry_id for r in done}
                self.writer.submit(self.store.release, [e for e in batch.entry_ids() if e not in answered])
                if self.fatal is None:
                    self.fatal = exc
                    for other, _ in self.inflight:
                        other.cancel()  # released as each is popped below
                keep = 0
                continue
            self._finish(results)

    def _finish(self, results: list[Result]) -> None:
        if results:
            self._record(results)
        self._reap(wait=False)

    def _record(self, results: list[Result]) -> None:
        """Keep a batch's answers for the ledger thread: a grouping transport's go in
        the next claim's transaction (or at the end), a message-by-message transport's
        at once. Until then their entries read ``unknown``: the safe side, never resent
        automatically."""
        self.answers.extend(results)
        if not self.grouping:
            self._write_answers()

    def _write_answers(self) -> None:
        if self.answers:
            results, self.answers = self.answers, []
            self.writes.append((self.writer.submit(self.store.record_all, results, self.now), results))

    def _reap(self, *, wait: bool) -> None:
        """Count and report the answers whose ledger write has landed; a failed write
        (the database went away) is raised here, on the calling thread."""
        while self.writes and (wait or self.writes[0][0].done()):
            future, results = self.writes.popleft()
            future.result()
            self.result.counts.update(map(str, map(_STATE, results)))
            if self.delivery.on_progress:
                self.delivery.on_progress(self.result, len(results))


# str() of a StrEnum is its value, in C: counts keyed "sent", "failed", ...
_STATE = operator.itemgetter(1)
