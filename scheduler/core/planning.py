"""Planning what is due: pure functions of the config, the subscribers' zones and ``now``.

A *slot* is one stage of one campaign year for the subscribers of one time zone: it is
due at the stage's ``send_time`` on their wall clock and may go out until
``late_cutoff_hours`` after that. Past the cutoff it is late, and whoever has not had it
is recorded as skipped (a reminder due on the 13th does not go out on the 21st).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from scheduler.core.dates import LeapDayRule, stage_due


class StageTiming(Protocol):
    """What planning needs of a stage (config.StageConfig has it)."""

    @property
    def id(self) -> str: ...
    @property
    def days_before(self) -> int: ...
    @property
    def send_time(self) -> time: ...


class CampaignTiming(Protocol):
    """What planning needs of a campaign (config.CampaignTiming has it)."""

    @property
    def id(self) -> str: ...
    @property
    def event_date(self) -> date: ...
    @property
    def timezone(self) -> str: ...
    @property
    def late_cutoff_hours(self) -> int: ...
    @property
    def leap_day(self) -> LeapDayRule: ...
    @property
    def stage(self) -> Sequence[StageTiming]: ...


#: how long after its cutoff a missed slot is still recorded as skipped by run-due
SKIP_HORIZON = timedelta(days=60)


@dataclass(frozen=True, order=True)
class Slot:
    due: datetime
    cutoff: datetime
    campaign: str
    year: int
    stage: str
    zone: str

    def state(self, now: datetime) -> str:
        if now < self.due:
            return "upcoming"
        if now < self.cutoff:
            return "due"
        return "late"


def candidate_years(campaign: CampaignTiming, now: datetime) -> list[int]:
    first = campaign.event_date.year + 1
    return [y for y in (now.year - 1, now.year, now.year + 1) if y >= first]


def slots(campaign: CampaignTiming, years: Iterable[int], zones: Iterable[str]) -> list[Slot]:
    cutoff = timedelta(hours=campaign.late_cutoff_hours)
    out = []
    for year in years:
        for stage in campaign.stage:
            for zone in zones:
                due = stage_due(
                    campaign.event_date,
                    year,
                    stage.days_before,
                    stage.send_time,
                    zone,
                    campaign.leap_day,
                )
                out.append(Slot(due, due + cutoff, campaign.id, year, stage.id, zone))
    return sorted(out)


@dataclass(frozen=True)
class Plan:
    due: list[Slot]
    late: list[Slot]
    upcoming: list[Slot]


def plan(campaign: CampaignTiming, zones: Iterable[str], now: datetime) -> Plan:
    """Split this campaign's slots around ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    all_slots = slots(campaign, candidate_years(campaign, now), list(zones))
    due = [s for s in all_slots if s.state(now) == "due"]
    late = [s for s in all_slots if s.state(now) == "late" and now < s.cutoff + SKIP_HORIZON]
    upcoming = [s for s in all_slots if s.state(now) == "upcoming"]
    return Plan(due, late, upcoming)


def first_slot(campaign: CampaignTiming, year: int, zones: Iterable[str]) -> Slot:
    """The first send of a campaign year: the earliest stage in the zone whose clocks
    reach its send time first (Pacific/Kiritimati, UTC+14, before anyone else). With no
    subscribers yet, the event's own zone stands in."""
    zones = list(zones) or [campaign.timezone]
    return min(slots(campaign, [year], zones))


def wakeups(
    campaigns: Iterable[CampaignTiming], zones: Iterable[str], now: datetime
) -> list[tuple[datetime, Slot, str]]:
    """Every future moment something changes for the daemon: each
    slot's due time ("due") and each slot's late cutoff ("cutoff"), sorted."""
    zones = list(zones)
    out: list[tuple[datetime, Slot, str]] = []
    for campaign in campaigns:
        for slot in slots(campaign, candidate_years(campaign, now), zones):
            if slot.due > now:
                out.append((slot.due, slot, "due"))
            if slot.cutoff > now:
                out.append((slot.cutoff, slot, "cutoff"))
    return sorted(out, key=lambda w: (w[0], w[2], w[1]))
