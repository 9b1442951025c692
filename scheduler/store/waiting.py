"""Who is still waiting for a stage: the anti-join of eligible subscribers against the
ledger, counted per zone for ``status``, ``plan`` and ``run-due``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select

from scheduler.core.outcomes import Status
from scheduler.store.base import LEDGER, SUBSCRIBER, StoreBase
from scheduler.store.driver import hash_joins


class WaitingQueries(StoreBase):
    def _eligible(
        self,
        campaign: str,
        year: int,
        stage: str,
        zones: Iterable[str] | None,
        consented_before: datetime | None,
    ) -> Any:
        cond = and_(SUBSCRIBER.c.status == Status.ACTIVE.value, ~self._has_entry(campaign, year, stage))
        if zones is not None:
            cond = and_(cond, SUBSCRIBER.c.timezone.in_(list(zones)))
        if consented_before is not None:
            cond = and_(cond, SUBSCRIBER.c.consent_at <= consented_before)
        return cond

    @staticmethod
    def _has_entry(campaign: str, year: int, stage: str) -> Any:
        return exists().where(
            and_(
                LEDGER.c.campaign == campaign,
                LEDGER.c.year == year,
                LEDGER.c.stage == stage,
                LEDGER.c.subscriber_id == SUBSCRIBER.c.id,
            )
        )

    def count_unsent(
        self,
        campaign: str,
        year: int,
        stage: str,
        zones: Iterable[str] | None = None,
        consented_before: datetime | None = None,
    ) -> int:
        with self._read() as conn:
            hash_joins(conn)
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(SUBSCRIBER)
                    .where(self._eligible(campaign, year, stage, zones, consented_before))
                ).scalar()
                or 0
            )

    def unsent_by_zone(self, campaign: str, year: int, stage: str) -> dict[str, int]:
        """Active subscribers without an entry for this stage, per zone (every active
        subscriber's zone named, 0 where nobody waits): exact, and in one read.

        BENCHMARKS.md (status, count and run-due): the anti-join behind
        :meth:`count_unsent` probes the ledger once per active subscriber, about half a
        second for a million, and ``status``, ``plan`` and ``run-due`` asked it once per
        zone. The two states a stage spends nearly all its time in are found from counts
        that each use one index: with no entry nobody has been sent it, and where the
        entries of active subscribers (all entries less those of the few who are not
        active) number the active subscribers, nobody waits. Only a stage part sent
        needs the anti-join, once, grouped by zone."""
        active = Status.ACTIVE.value
        others = [s.value for s in Status if s is not Status.ACTIVE]
        stage_entry = and_(LEDGER.c.campaign == campaign, LEDGER.c.year == year, LEDGER.c.stage == stage)
        with self._read() as conn:
            hash_joins(conn)
            zones = {
                str(zone): int(n)
                for zone, n in conn.execute(
                    select(SUBSCRIBER.c.timezone, func.count())
                    .where(SUBSCRIBER.c.status == active)
                    .group_by(SUBSCRIBER.c.timezone)
                )
            }
            total = sum(zones.values())
            entries = int(conn.execute(select(func.count()).select_from(LEDGER).where(stage_entry)).scalar() or 0)
            if not entries or not total:
                return zones
            not_active = int(
                conn.execute(
                    select(func.count())
                    .select_from(SUBSCRIBER)
                    .where(SUBSCRIBER.c.status.in_(others), self._has_entry(campaign, year, stage))
                ).scalar()
                or 0
            )
            if entries - not_active >= total:
                return dict.fromkeys(zones, 0)
            waiting = conn.execute(
                select(SUBSCRIBER.c.timezone, func.count())
                .where(self._eligible(campaign, year, stage, None, None))
                .group_by(SUBSCRIBER.c.timezone)
            )
            return {**dict.fromkeys(zones, 0), **{str(zone): int(n) for zone, n in waiting}}
