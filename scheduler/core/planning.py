"""Planning what is due: pure functions of the config, the subscribers' zones and ``now``.

A *slot* is one stage of one campaign year for the subscribers of one time zone: it is
due at the stage's ``send_time`` on their wall clock (or ``send_before_silence`` before
the minute of silence, out of quiet hours: :mod:`scheduler.core.timing`) and may go out
until ``late_cutoff_hours`` after that. Past the cutoff it is late, and whoever has not
had it is recorded as skipped (a reminder due on the 13th does not go out on the 21st).
A stage that must not arrive after the silence is late once the silence has come.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from scheduler.core.dates import LeapDayRule, silence_moment, stage_due
from scheduler.core.timing import QuietHours, quiet_until, silence_send_time

#: a catch-up this long after a silence-timed slot's moment is held out of quiet hours;
#: a run at the moment itself (22:00, the last one before them) sends
QUIET_GRACE = timedelta(minutes=10)


class StageTiming(Protocol):
    """What planning needs of a stage (config.StageConfig has it)."""

    @property
    def id(self) -> str: ...
    @property
    def days_before(self) -> int: ...
    @property
    def send_time(self) -> time | None: ...
    @property
    def send_before_silence(self) -> timedelta | None: ...
    @property
    def min_lead(self) -> timedelta: ...
    @property
    def skips_after_silence(self) -> bool: ...


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
    def silence_time(self) -> time: ...
    @property
    def stage(self) -> Sequence[StageTiming]: ...

    def quiet_for(self, stage: StageTiming, /) -> QuietHours | None: ...


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
    #: the minute of silence, for a stage that must not arrive after it
    silence: datetime | None = field(default=None, compare=False)
    #: the quiet hours a silence-timed stage keeps out of
    quiet: QuietHours | None = field(default=None, compare=False)

    def state(self, now: datetime) -> str:
        """``upcoming``, ``due``, ``held`` (in quiet hours until they end) or ``late``."""
        if now < self.due:
            return "upcoming"
        if now >= self.cutoff:
            return "late"
        if self.quiet is not None and now - self.due > QUIET_GRACE:
            until = quiet_until(now, self.zone, self.quiet)
            if until is not None:
                return "late" if self.silence is not None and until >= self.silence else "held"
        return "due"

    def why_late(self, now: datetime) -> str:
        """Why whoever has not had this slot by ``now`` is skipped."""
        zone = ZoneInfo(self.zone)
        if self.silence is not None and now >= self.silence:
            return f"the minute of silence had passed ({self.silence.astimezone(zone):%Y-%m-%d %H:%M} {self.zone})"
        if now < self.cutoff and self.silence is not None:
            return (
                f"quiet hours in {self.zone} last past the minute of silence "
                f"({self.silence.astimezone(zone):%Y-%m-%d %H:%M})"
            )
        local_due = self.due.astimezone(zone)
        hours = int((self.cutoff - self.due).total_seconds() // 3600)
        return f"past the late cutoff: due {local_due:%Y-%m-%d %H:%M} {self.zone}, not sent by {hours} h later"


def candidate_years(campaign: CampaignTiming, now: datetime) -> list[int]:
    first = campaign.event_date.year + 1
    return [y for y in (now.year - 1, now.year, now.year + 1) if y >= first]


def stage_moment(campaign: CampaignTiming, stage: StageTiming, year: int, zone: str) -> datetime:
    """When ``stage`` of ``year`` goes out to the subscribers of ``zone``, in UTC."""
    if stage.send_before_silence is not None:
        silence = silence_moment(
            campaign.event_date, year, campaign.silence_time, campaign.timezone, campaign.leap_day
        ).utc
        return silence_send_time(silence, zone, stage.send_before_silence, campaign.quiet_for(stage), stage.min_lead)
    assert stage.send_time is not None  # config validation: one of the two
    return stage_due(campaign.event_date, year, stage.days_before, stage.send_time, zone, campaign.leap_day)


def slots(campaign: CampaignTiming, years: Iterable[int], zones: Iterable[str]) -> list[Slot]:
    late = timedelta(hours=campaign.late_cutoff_hours)
    zones = list(zones)
    out = []
    for year in years:
        silence = silence_moment(
            campaign.event_date, year, campaign.silence_time, campaign.timezone, campaign.leap_day
        ).utc
        for stage in campaign.stage:
            quiet = campaign.quiet_for(stage)
            stop = silence if stage.skips_after_silence else None
            for zone in zones:
                due = stage_moment(campaign, stage, year, zone)
                cutoff = due + late if stop is None else min(due + late, stop)
                out.append(Slot(due, cutoff, campaign.id, year, stage.id, zone, stop, quiet))
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
    late = [s for s in all_slots if s.state(now) == "late" and now < max(s.cutoff, s.due) + SKIP_HORIZON]
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
