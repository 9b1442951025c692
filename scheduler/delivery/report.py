"""What ``anniversary status`` and ``anniversary plan`` show: the ledger's counts, the
unknown entries and how to resend them, and each stage's next send per zone. Pure
reads; takes ``now``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.config import Config
from scheduler.core import planning
from scheduler.core.dates import anniversary_number
from scheduler.core.numbers import ordinal
from scheduler.core.outcomes import State
from scheduler.delivery.headsup_due import heads_up_at
from scheduler.store import Store


class _Reads:
    """The reads one ``status`` makes, each once: the plan under it asks the same
    counts again (BENCHMARKS.md, status, count and run-due)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._zones: list[str] | None = None
        self._counts: dict[tuple[str, int], dict[str, dict[str, int]]] = {}
        self._unsent: dict[tuple[str, int, str], dict[str, int]] = {}

    def zones(self) -> list[str]:
        if self._zones is None:
            self._zones = self.store.active_zones()
        return self._zones

    def counts(self, campaign: str, year: int) -> dict[str, dict[str, int]]:
        if (campaign, year) not in self._counts:
            self._counts[campaign, year] = self.store.ledger_counts(campaign, year)
        return self._counts[campaign, year]

    def unsent(self, campaign: str, year: int, stage: str) -> dict[str, int]:
        """Active subscribers not yet sent the stage, per zone."""
        if (campaign, year, stage) not in self._unsent:
            self._unsent[campaign, year, stage] = self.store.unsent_by_zone(campaign, year, stage)
        return self._unsent[campaign, year, stage]


def status_lines(config: Config, store: Store, now: datetime, year: int | None = None) -> list[str]:
    """What ``anniversary status`` prints: per campaign and stage the next send and the
    count in each ledger state, the unknown entries with the command that resends them,
    then the plan and the batching in force."""
    lines: list[str] = []
    reads = _Reads(store)
    zones = reads.zones()
    for campaign in config.campaign:
        y = campaign.resolve_year(year, now)
        counts = reads.counts(campaign.id, y)
        number = anniversary_number(campaign.event_date, y)
        lines.append(f"{campaign.id} {y}: the {ordinal(number, 'en')} anniversary")
        slots = planning.slots(campaign, [y], zones)
        for stage in campaign.stage:
            upcoming = [s for s in slots if s.stage == stage.id and s.due > now]
            unsent = sum(reads.unsent(campaign.id, y, stage.id).values())
            states = counts.get(stage.id, {})
            if not unsent and states:
                when = "done"
            elif upcoming:
                nxt = upcoming[0].due
                local = nxt.astimezone(ZoneInfo(campaign.timezone))
                when = (
                    f"next {nxt:%Y-%m-%d %H:%M} UTC = {local:%Y-%m-%d %H:%M} {campaign.timezone} ({upcoming[0].zone})"
                )
            else:
                when = "no send ahead" if zones else "no active subscribers"
            parts = [f"{s.value} {states.get(s.value, 0)}" for s in State] + [f"not yet {unsent}"]
            lines.append(f"  {stage.id}: {when}; " + ", ".join(parts))
            # Looked up only where the counts say there are some: the ledger has no index
            # on state, so the query reads every entry of the stage.
            unknown = (
                store.entries(campaign.id, y, stage.id, State.UNKNOWN, limit=20)
                if states.get(State.UNKNOWN.value)
                else []
            )
            for e in unknown:
                lines.append(f"    unknown: {e['email']} (claimed {e['updated_at']:%Y-%m-%d %H:%M} UTC)")
            if unknown:
                lines.append(
                    "    to resend these on purpose: "
                    f"anniversary resend {campaign.id} {stage.id} --year {y} --state unknown"
                )
            for state in (State.FAILED, State.SKIPPED):
                if not states.get(state.value):
                    continue
                for reason, n in store.reasons(campaign.id, y, stage.id, state):
                    lines.append(f"    {state.value} {n}: {reason}")
                if state is State.FAILED:
                    lines.append(
                        "    to resend the failed ones once the cause is fixed: "
                        f"anniversary resend {campaign.id} {stage.id} --year {y} --state failed"
                    )
    lines.append("plan (per stage and zone; the daemon wakes at each):")
    lines += [f"  {line}" for line in _plan_lines(config, reads, now, year)]
    lines.append(config.transport.batching.describe())
    return lines


def plan_lines(config: Config, store: Store, now: datetime, year: int | None = None) -> list[str]:
    """What ``anniversary plan`` prints: per campaign, stage and
    zone the next send in UTC, in the event's zone and on the zone's own clock; the
    heads-up; the last run."""
    return _plan_lines(config, _Reads(store), now, year)


def _plan_lines(config: Config, reads: _Reads, now: datetime, year: int | None) -> list[str]:
    store = reads.store
    zones = reads.zones()
    lines: list[str] = []
    for campaign in config.campaign:
        event_zone = ZoneInfo(campaign.timezone)
        y = campaign.resolve_year(year, now)
        lines.append(f"{campaign.id} {y} (event zone {campaign.timezone}, late cutoff {campaign.late_cutoff_hours} h)")
        if not zones:
            lines.append("  no active subscribers: nothing to plan")
        for stage in campaign.stage:
            lines.append(f"  {stage.id}:")
            for slot in planning.slots(campaign, [y], zones):
                if slot.stage != stage.id:
                    continue
                state = {"upcoming": "next", "due": "DUE NOW", "held": "held", "late": "past"}[slot.state(now)]
                if state != "past" and not reads.unsent(campaign.id, y, stage.id).get(slot.zone):
                    state = "done"  # nobody in this zone is waiting for it
                lines.append(
                    f"    {slot.zone:<24} {state:<7} {slot.due:%Y-%m-%d %H:%M} UTC"
                    f" = {slot.due.astimezone(event_zone):%Y-%m-%d %H:%M} {campaign.timezone}"
                    f" = {slot.due.astimezone(ZoneInfo(slot.zone)):%H:%M %Z} local;"
                    f" cutoff {slot.cutoff:%Y-%m-%d %H:%M} UTC"
                )
        counts = reads.counts(campaign.id, y)
        for stage_id, states in sorted(counts.items()):
            lines.append(f"  ledger {stage_id}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
        if config.organizers.emails:
            due = heads_up_at(config, campaign, y, zones)
            row = store.heads_up(campaign.id, y)
            done = f"{row['state']} {row['updated_at']:%Y-%m-%d %H:%M} UTC" if row else "not sent yet"
            lines.append(
                f"  heads-up: due {due.at:%Y-%m-%d %H:%M} UTC to {len(config.organizers.emails)} organizer(s); {done}"
            )
        else:
            lines.append("  heads-up: off (organizers.emails is empty)")
    last = store.last_run()
    if last:
        lines.append(f"last run: {last['command']} at {last['started_at']:%Y-%m-%d %H:%M} UTC: {last['summary']}")
    return lines


def letter_lines(config: Config, store: Store, now: datetime, year: int | None) -> list[str]:
    """``status``'s lines for the statement for the record: per campaign with an action,
    the letters written for the year and their deliveries to targets by state."""
    lines = []
    for campaign in config.campaign:
        if campaign.action is None:
            continue
        chosen = campaign.resolve_year(year, now)
        written = store.letters_count(campaign.id, chosen)
        states = store.letter_delivery_counts(campaign.id, chosen)
        shown = ", ".join(f"{states.get(s, 0)} {s}" for s in ("sent", "queued", "sending", "failed"))
        lines.append(f"{campaign.id} {chosen} letters: {written} written; to targets: {shown}")
    return lines
