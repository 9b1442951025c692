"""``anniversary daemon``: an APScheduler BlockingScheduler that wakes when something
becomes due (README: Operations).

Wakes: one date job per distinct slot due time (a stage's send time on the wall clock of
a subscriber zone), one per late cutoff (so whoever missed a slot is recorded as skipped
on time), one per organizers' heads-up, and a one-minute safety tick that also notices
new subscriber zones (re-plan) and new subscribers inside a due window. Otherwise the
scheduler sleeps: no polling.

Every job calls :meth:`Daemon.wake`, the edge that reads the clock, which calls
:meth:`Daemon.tick` with ``now``; tests drive ``tick`` (or the jobs under time-machine)
without waiting. The sending itself is :meth:`scheduler.delivery.runs.Delivery.run_due`:
idempotent, catches up whatever is due within each campaign's late cutoff, and records
as skipped what is past it, so a start after downtime is just one more wake.

Missed runs (APScheduler's default ``misfire_grace_time`` of 1 s drops a job missed
across a suspend): a due wake may run until its slot's cutoff; the others have no limit,
since ``tick`` decides what is still worth doing; ``coalesce=True`` folds a backlog.

Signals (huey style): handlers only set flags. The Python handler runs in the main
thread, which sleeps in the scheduler's Event.wait and would not look at a flag until
its next job; so ``signal.set_wakeup_fd`` also makes the interpreter write the signal
number to a socket, and a watcher thread reading it acts outside signal context:
SIGTERM/SIGINT send STOPPING=1 and wake the loop, which ends and shuts the scheduler
down in the main thread, waiting for the batch in flight (the sender polls the flag
between batches) to be recorded; SIGHUP queues a wake that reloads.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from sqlalchemy.exc import SQLAlchemyError

from scheduler.config import Config, load_config
from scheduler.content.links import Signer, signer_for
from scheduler.core import planning as planner
from scheduler.core.values import one_line
from scheduler.delivery import headsup
from scheduler.delivery.letters import LetterSender
from scheduler.delivery.runs import Delivery, RunCounts
from scheduler.errors import ConfigError, SchedulerError
from scheduler.service.loop import DaemonScheduler, Flags
from scheduler.service.notify import Notifier
from scheduler.store import Store, upgrade_database
from scheduler.transports import make_transport

log = logging.getLogger(__name__)

SAFETY_TICK_SECONDS = 60
#: ids of the jobs a re-plan replaces
_PLANNED = ("due@", "cutoff@", "heads-up@")


def _one_line(exc: BaseException) -> str:
    return one_line(str(exc)) or type(exc).__name__


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime],
        notifier: Notifier | None = None,
        scheduler: BaseScheduler | None = None,
        store: Store | None = None,
        signer: Signer | None = None,
        safety_tick_seconds: float = SAFETY_TICK_SECONDS,
    ) -> None:
        self.config = config
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.flags = Flags()
        # Secrets first: a missing one stops the start before any database is made.
        self.signer = signer or signer_for(config)
        make_transport(config.transport, config.base_dir)
        if store is None:
            # Upgrading on start (after a backup of a SQLite file) is the daemon's
            # job: it is what systemd restarts after a package upgrade.
            report = upgrade_database(config.database_url)
            if report.changed and report.from_rev is not None:
                log.info(
                    "database upgraded from schema %s to %s%s",
                    report.from_rev or "none",
                    report.to_rev,
                    f"; backup {report.backup}" if report.backup else "",
                )
        self.store = store or Store(config.database_url)
        self.delivery = self._make_delivery(config)
        self.safety_tick_seconds = safety_tick_seconds
        self.scheduler = scheduler or DaemonScheduler(
            lambda: self.flags.stop,
            timezone=UTC,
            # Several threads so the watchdog and the safety tick still run while a long
            # send holds one; ticks themselves never overlap (self._busy).
            executors={"default": ThreadPoolExecutor(max_workers=3)},
        )
        self._busy = threading.Lock()
        self.zones: list[str] | None = None
        self.planned_year: int | None = None
        self.slots: list[planner.Slot] = []
        self.last_run_at: datetime | None = None
        self.last_summary = "no run yet"
        self._wakeup_r: socket.socket | None = None
        self._wakeup_w: socket.socket | None = None
        self._stopping = False

    # -- building blocks ---------------------------------------------------------

    def _make_delivery(self, config: Config, signer: Signer | None = None) -> Delivery:
        # No transport given: each run builds and opens a fresh one from the config.
        return Delivery(
            config,
            self.store,
            signer or self.signer,
            should_stop=lambda: self.flags.stop,
            on_progress=self._progress,
        )

    def _progress(self, counts: RunCounts, _batch: int) -> None:
        self.notifier.watchdog()  # a long send is progress too
        self.notifier.status(f"sending {counts.campaign} {counts.year} {counts.stage}: {counts.total()} so far")

    def validate(self, config: Config, now: datetime, signer: Signer | None = None) -> Delivery:
        """Render every stage in every language for each campaign's coming year, as a
        send's preflight does before claiming: a broken template fails here, not
        mid-campaign. Returns a Delivery holding the templates just validated (jinja is
        set up with auto_reload=False, so later edits on disk wait for SIGHUP)."""
        delivery = self._make_delivery(config, signer)
        for campaign in config.campaign:
            year = campaign.resolve_year(None, now)
            for stage in campaign.stage:
                delivery.composer.preflight(campaign, stage, year)
        return delivery

    # -- the plan ------------------------------------------------------------------

    def replan(self, now: datetime, *, force: bool = False) -> bool:
        """(Re)arm one wake per future due time, cutoff and heads-up. Only when the set of
        subscriber zones, the year or the config changed. True when it re-planned."""
        zones = self.store.active_zones()
        if not force and zones == self.zones and now.year == self.planned_year:
            return False
        if self.zones is not None and zones != self.zones:
            log.info("subscriber zones changed (%s); re-planning", ", ".join(zones) or "none")
        self.zones, self.planned_year = zones, now.year
        self.slots = sorted(
            s for c in self.config.campaign for s in planner.slots(c, planner.candidate_years(c, now), zones)
        )
        for job in self.scheduler.get_jobs():
            if job.id.startswith(_PLANNED):
                self.scheduler.remove_job(job.id)
        wakes: dict[str, tuple[datetime, int | None, list[str]]] = {}
        for at, slot, kind in planner.wakeups(self.config.campaign, zones, now):
            # A due wake may still run until the slot's cutoff; past it run_due only
            # records skips, which the cutoff wake and the safety tick do anyway.
            grace = int((slot.cutoff - slot.due).total_seconds()) if kind == "due" else None
            key = f"{kind}@{at.isoformat()}"
            old = wakes.get(key)
            label = f"{slot.campaign} {slot.year} {slot.stage} {slot.zone}"
            if old is None:
                wakes[key] = (at, grace, [label])
            else:
                wider = None if old[1] is None or grace is None else max(old[1], grace)
                wakes[key] = (at, wider, [*old[2], label])
        for due in headsup.upcoming(self.config, zones, now):
            if self.config.organizers.emails and due.at > now:
                wakes[f"heads-up@{due.at.isoformat()}"] = (due.at, None, [f"heads-up {due.campaign.id} {due.year}"])
        for key, (at, grace, labels) in wakes.items():
            self.scheduler.add_job(
                self.wake,
                trigger="date",
                run_date=at,
                id=key,
                name=f"{key.split('@')[0]}: " + "; ".join(labels),
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=3,
                replace_existing=True,
            )
        log.info("planned %d wake(s) for %d zone(s); %s", len(wakes), len(zones), self.next_text(now))
        return True

    def next_slot(self, now: datetime) -> planner.Slot | None:
        return next((s for s in self.slots if s.due > now), None)

    def next_text(self, now: datetime) -> str:
        nxt = self.next_slot(now)
        if nxt is None:
            return "nothing ahead" if self.zones else "no active subscribers"
        same = [s for s in self.slots if s.due == nxt.due]
        zones = ", ".join(s.zone for s in same)
        return f"next {nxt.campaign} {nxt.year} {nxt.stage} at {nxt.due:%Y-%m-%d %H:%M} UTC ({zones})"

    def needs_run(self, now: datetime) -> bool:
        """Whether run_due has anything to do: at start (catch-up), while a slot is inside
        its window (new subscribers, a wake folded into a busy one), and once after each
        cutoff (to record skips). Outside these it would only re-read the ledger."""
        if self.last_run_at is None:
            return True
        last = self.last_run_at
        return any(s.due <= now < s.cutoff or last < s.cutoff <= now for s in self.slots)

    # -- one wake ------------------------------------------------------------------

    def wake(self) -> None:
        """What every job calls: the edge that reads the clock."""
        self.tick(self.clock())

    def tick(self, now: datetime) -> None:
        if not self._busy.acquire(blocking=False):
            # Another wake is sending; the safety tick after it catches whatever is due.
            log.debug("wake at %s folded into the one in progress", now.isoformat())
            return
        try:
            if self.flags.stop:
                return
            if self.flags.reload:
                self.flags.reload = False
                self.reload(now)
            self.replan(now)
            for due in headsup.pending(self.config, self.store, self.zones or [], now):
                headsup.send(self.config, self.delivery, due, self.zones or [], now)
            if self.needs_run(now):
                self.run_due(now)
            # Sign-ups never confirmed are deleted (README: The web app): the daemon is
            # the process that is always running, so the web app need not be.
            purged = self.store.purge_pending(self.config.web.purge_before(now))
            if purged:
                log.info("deleted %d sign-up(s) never confirmed", purged)
            # Letters a target's hourly limit held back go out here, in order (README:
            # The statement for the record); the minute's safety tick drains the queue.
            if any(c.action for c in self.config.campaign):
                LetterSender(self.config, self.store, self.delivery.composer.links.signer).drain(now)
            self.notifier.status(f"{self.next_text(now)}; last run: {self.last_summary}")
        except (SchedulerError, SQLAlchemyError, OSError) as exc:
            # One line, and keep running: the next wake retries (a locked database, an
            # SMTP server down for a minute). A fatal error repeats and is seen in logs.
            log.error("wake at %s failed: %s", now.isoformat(), _one_line(exc))
        finally:
            self._busy.release()
        if self.flags.reload and not self.flags.stop:
            # SIGHUP arrived while this wake was sending and its own wake was folded into
            # this one: reload now, with a fresh clock, not at the next safety tick.
            self.scheduler.add_job(self.wake, id="sighup", misfire_grace_time=None, replace_existing=True)

    def run_due(self, now: datetime) -> list[RunCounts]:
        first = self.last_run_at is None
        run_id = uuid.uuid4().hex[:12]
        # As the commands do around a send (scheduler/cli/common.py, sending()).
        gc.freeze()
        try:
            results = self.delivery.run_due(now, run_id=run_id)
        finally:
            gc.unfreeze()
            self.last_run_at = now
        sent = [r for r in results if r.total() or r.stopped]
        summary = "; ".join(r.describe() + (f" ({r.stopped})" if r.stopped else "") for r in sent) or "nothing due"
        self.last_summary = f"{now:%Y-%m-%d %H:%M} UTC: {summary}"
        if first or sent:
            # The run table is what `anniversary status` shows as the last run.
            self.store.start_run(run_id, "daemon" + (" catch-up" if first else ""), now)
            self.store.finish_run(run_id, summary, now)
            log.info("%s: %s", "catch-up on start" if first else "run", summary)
        return results

    # -- SIGHUP --------------------------------------------------------------------

    def reload(self, now: datetime) -> bool:
        """Load and validate config and templates; swap them in only when whole."""
        self.notifier.reloading()
        path = self.config.path
        try:
            new = load_config(path)
            if new.database_url != self.config.database_url:
                raise ConfigError("database.url changed; restart the daemon to switch databases")
            signer = self.signer
            if new.sender.signing_key_env != self.config.sender.signing_key_env:
                signer = signer_for(new)
            make_transport(new.transport, new.base_dir)
            delivery = self.validate(new, now, signer)
        except SchedulerError as exc:
            log.error(
                "reload of %s refused, keeping the running config and templates: %s",
                path,
                _one_line(exc),
            )
            self.notifier.ready(f"reload refused: {_one_line(exc)}")
            return False
        self.config, self.delivery, self.signer = new, delivery, signer
        self.replan(now, force=True)
        log.info("reloaded %s and its templates", path)
        self.notifier.ready(f"reloaded; {self.next_text(now)}")
        return True

    # -- running under a real scheduler ----------------------------------------------

    def arm(self, now: datetime) -> None:
        """Plan, then queue the jobs that run whatever the plan: a catch-up wake right
        away, the safety tick and, under WatchdogSec, the watchdog. Validates the
        templates first: a start with a template that does not render fails here."""
        self.delivery = self.validate(self.config, now)
        self.replan(now, force=True)
        self.scheduler.add_job(self.wake, id="catch-up", misfire_grace_time=None, coalesce=True)
        self.scheduler.add_job(
            self.wake,
            trigger="interval",
            seconds=self.safety_tick_seconds,
            id="safety-tick",
            misfire_grace_time=None,
            coalesce=True,
            max_instances=3,
        )
        interval = self.notifier.watchdog_interval
        if interval:
            # From inside the scheduler loop: if the loop hangs, pings stop and systemd
            # restarts us (sd_watchdog_enabled(3): ping every half of WATCHDOG_USEC).
            self.scheduler.add_job(
                self.notifier.watchdog,
                trigger="interval",
                seconds=interval,
                id="watchdog",
                misfire_grace_time=None,
                coalesce=True,
            )
        self.scheduler.add_listener(self._started, EVENT_SCHEDULER_STARTED)

    def _started(self, _event: Any) -> None:
        self.notifier.ready(f"armed; {self.next_text(self.clock())}")
        self.notifier.watchdog()
        if self._wakeup_r is not None:
            threading.Thread(target=self._watch_signals, name="signal-watcher", daemon=True).start()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.flags.reload = True
        else:
            self.flags.stop_signal = signum
            self.flags.stop = True

    def _watch_signals(self) -> None:
        assert self._wakeup_r is not None
        while True:
            try:
                data = self._wakeup_r.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                log.info("received %s", signal.Signals(signum).name)
                # The interpreter writes the byte before the main thread gets to run the
                # Python handler, so set the same flag here rather than race it.
                if signum == signal.SIGHUP:
                    self.flags.reload = True
                else:
                    self.flags.stop = True
            if self.flags.stop and not self._stopping:
                self._stopping = True
                self.notifier.stopping("stopping after the batch in flight")
                self.scheduler.wakeup()  # the loop sees the flag and ends
                return
            if self.flags.reload:
                self.scheduler.add_job(self.wake, id="sighup", misfire_grace_time=None, replace_existing=True)

    def run(self) -> int:
        """Block until SIGTERM/SIGINT; exit status 0 after the batch in flight is recorded."""
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        self._wakeup_w.setblocking(False)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        old_fd = signal.set_wakeup_fd(self._wakeup_w.fileno(), warn_on_full_buffer=False)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        try:
            self.arm(self.clock())
            log.info("daemon started with config %s", self.config.path)
            self.scheduler.start()
            if self.scheduler.state != STATE_STOPPED:
                # The loop has ended; wait=True lets a wake still sending finish its
                # batch (the sender checks the flag between batches) and record it.
                self.scheduler.shutdown(wait=True)
        finally:
            signal.set_wakeup_fd(old_fd)
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._wakeup_w.close()
            self._wakeup_r.close()
        if not self._stopping:
            # The loop ended on the flag before the watcher thread read the signal:
            # say which one, as the watcher would have.
            if self.flags.stop_signal:
                log.info("received %s", signal.Signals(self.flags.stop_signal).name)
            self.notifier.stopping()
        log.info("daemon stopped; last run: %s", self.last_summary)
        self.notifier.close()
        self.store.close()
        return 0
