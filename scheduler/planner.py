"""Planning what is due: pure functions of the config, the subscribers' zones and ``now``.

A *slot* is one stage of one campaign year for the subscribers of one time zone: it is
due at the stage's ``send_time`` on their wall clock and may go out until
``late_cutoff_hours`` after that. Past the cutoff it is late, and whoever has not had it
is recorded as skipped (a reminder due on the 13th does not go out on the 21st).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.anniversary import stage_due
from scheduler.config import CampaignConfig

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


def candidate_years(campaign: CampaignConfig, now: datetime) -> list[int]:
    first = campaign.event_date.year + 1
    return [y for y in (now.year - 1, now.year, now.year + 1) if y >= first]


def slots(campaign: CampaignConfig, years: Iterable[int], zones: Iterable[str]) -> list[Slot]:
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


def plan(campaign: CampaignConfig, zones: Iterable[str], now: datetime) -> Plan:
    """Split this campaign's slots around ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    all_slots = slots(campaign, candidate_years(campaign, now), list(zones))
    due = [s for s in all_slots if s.state(now) == "due"]
    late = [s for s in all_slots if s.state(now) == "late" and now < s.cutoff + SKIP_HORIZON]
    upcoming = [s for s in all_slots if s.state(now) == "upcoming"]
    return Plan(due, late, upcoming)


def next_due(campaigns: Iterable[CampaignConfig], zones: Iterable[str], now: datetime) -> Slot | None:
    zones = list(zones)
    upcoming = [s for c in campaigns for s in plan(c, zones, now).upcoming]
    return min(upcoming) if upcoming else None


def first_slot(campaign: CampaignConfig, year: int, zones: Iterable[str]) -> Slot:
    """The first send of a campaign year: the earliest stage in the zone whose clocks
    reach its send time first (Pacific/Kiritimati, UTC+14, before anyone else). With no
    subscribers yet, the event's own zone stands in."""
    zones = list(zones) or [campaign.timezone]
    return min(slots(campaign, [year], zones))


def wakeups(
    campaigns: Iterable[CampaignConfig], zones: Iterable[str], now: datetime
) -> list[tuple[datetime, Slot, str]]:
    """Every future moment something changes for the daemon (issue 4, section 1): each
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
