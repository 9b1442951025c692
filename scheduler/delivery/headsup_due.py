"""When the organizers' heads-up is due (README: Operations): planning only, so that
``status`` can show it without loading what sends it (:mod:`.headsup`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.config import CampaignConfig, Config
from scheduler.core import planning as planner


@dataclass(frozen=True)
class HeadsUpDue:
    campaign: CampaignConfig
    year: int
    first: planner.Slot
    at: datetime


def heads_up_at(config: Config, campaign: CampaignConfig, year: int, zones: list[str]) -> HeadsUpDue:
    first = planner.first_slot(campaign, year, zones)
    return HeadsUpDue(campaign, year, first, first.due - timedelta(days=config.organizers.heads_up_days))
