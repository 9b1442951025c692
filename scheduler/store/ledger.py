"""The ledger: read candidates, claim, record, skip, count. Claims are portable:
``INSERT ... ON CONFLICT DO NOTHING`` on the unique (campaign, year, stage, subscriber)
key, inside ``BEGIN IMMEDIATE`` on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    exists,
    func,
    literal,
    select,
)

from scheduler.core.outcomes import Result, State, Status
from scheduler.store.base import LEDGER, SUBSCRIBER, Candidate, StoreBase
from scheduler.store.driver import candidate_of, driver_sql, id_list, record_on


class LedgerQueries(StoreBase):
    # -- the ledger --------------------------------------------------------------

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

    def max_subscriber_id(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.max(SUBSCRIBER.c.id))).scalar() or 0)

    def candidates_range(
        self,
        campaign: str,
        year: int,
        stage: str,
        *,
        after: int,
        upto: int,
        zones: Iterable[str] | None = None,
        grouped: bool = False,
    ) -> list[Candidate]:
        """Read, without claiming, every eligible subscriber with ``after < id <= upto``;
        with ``grouped``, in content-group order (language, zone, named).

        Reading ahead is free; claiming ahead is not: a claim reads ``unknown`` until
        the transport answers, so whatever is claimed but still waiting for its group
        when the process is killed would never be sent. Batches are therefore claimed
        by :meth:`claim_ids` just before they go out.

        BENCHMARKS.md (SendGrid delivery): with ``ORDER BY id LIMIT n`` SQLite picks the
        (status, zone) index and sorts every active subscriber on each read, which is
        quadratic over a large list; a primary-key window is a range scan, so a send
        stays linear in the number of subscribers.
        """
        query = select(
            SUBSCRIBER.c.id, SUBSCRIBER.c.email, SUBSCRIBER.c.name, SUBSCRIBER.c.language, SUBSCRIBER.c.timezone
        ).where(
            and_(
                SUBSCRIBER.c.id > after,
                SUBSCRIBER.c.id <= upto,
                # `status || ''` keeps the planner off the (status, zone) index, so the
                # primary-key window is what bounds the scan (portable: SQLite and PG).
                SUBSCRIBER.c.status.concat("") == Status.ACTIVE.value,
                ~self._has_entry(campaign, year, stage),
                *([SUBSCRIBER.c.timezone.in_(list(zones))] if zones is not None else []),
            )
        )
        query = (
            query.order_by(SUBSCRIBER.c.language, SUBSCRIBER.c.timezone, SUBSCRIBER.c.name == "", SUBSCRIBER.c.id)
            if grouped
            else query.order_by(SUBSCRIBER.c.id)
        )
        with self._read() as conn:
            # The driver's plain tuples, not SQLAlchemy rows: one per subscriber.
            return list(map(candidate_of, conn.execute(query).cursor.fetchall()))

    def claim_ids(
        self,
        campaign: str,
        year: int,
        stage: str,
        subscriber_ids: Sequence[int],
        *,
        claim_id: str,
        transport: str,
        now: datetime,
        answers: Sequence[Result] = (),
    ) -> dict[int, int]:
        """Atomically claim these subscribers' entries; {subscriber id: entry id} for
        those this call won. Another sender may have claimed some meanwhile, or a
        subscriber may have left. ``ON CONFLICT DO NOTHING`` on the unique key alone
        decides who wins, and ``RETURNING`` (SQLite 3.35+, PostgreSQL) names the rows
        won without reading the ledger back.

        BENCHMARKS.md (SendGrid delivery): this runs once per request, so it is one plain statement,
        the ids written in as integers (an expanding IN costs more per id than SQLite's
        whole insert) and no ``NOT EXISTS`` probe of the ledger before the insert.
        ``answers`` (of earlier batches) are written first, in the same transaction:
        one commit per request instead of two."""
        if not subscriber_ids:
            return {}
        ids = id_list(subscriber_ids)
        insert = (
            "INSERT INTO ledger (campaign, year, stage, subscriber_id, state, reason, run_id, transport, updated_at)"
            f" SELECT ?, ?, ?, subscriber.id, ?, NULL, ?, ?, ? FROM subscriber WHERE subscriber.id IN ({ids})"
            # `status || ''`: look the ids up by primary key, not through the (status,
            # zone) index of every active subscriber.
            " AND subscriber.status || '' = ?"
            " ON CONFLICT (campaign, year, stage, subscriber_id) DO NOTHING"
        )
        with self._write() as conn:
            stamp = self._stamp(conn, now)
            record_on(conn, answers, stamp)
            params = (campaign, year, stage, State.UNKNOWN.value, claim_id, transport, stamp, Status.ACTIVE.value)
            # One path for SQLite and PostgreSQL: a group_concat read-back on SQLite
            # measured no faster (BENCHMARKS.md, "One claim path").
            rows = driver_sql(conn, insert + " RETURNING ledger.id, ledger.subscriber_id", params).fetchall()
            return {sid: eid for eid, sid in rows}

    def _insert_entries(
        self,
        campaign: str,
        year: int,
        stage: str,
        *,
        state: State,
        claim_id: str,
        transport: str,
        now: datetime,
        where: Any,
        reason: str | None = None,
    ) -> Any:
        """``INSERT .. SELECT`` one ledger entry per subscriber matching ``where``, for
        skips; ``ON CONFLICT DO NOTHING`` on the unique key keeps it atomic beside a
        concurrent claim (claim_ids writes its own plain statement, for speed)."""
        chosen = select(
            literal(campaign),
            literal(year),
            literal(stage),
            SUBSCRIBER.c.id,
            literal(state.value),
            literal(reason),
            literal(claim_id),
            literal(transport),
            literal(now, LEDGER.c.updated_at.type),
        ).where(where)
        columns = ["campaign", "year", "stage", "subscriber_id", "state", "reason", "run_id", "transport", "updated_at"]
        return (
            self._insert(LEDGER)
            .from_select(columns, chosen)
            .on_conflict_do_nothing(index_elements=["campaign", "year", "stage", "subscriber_id"])
        )

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

    def record_all(self, results: Sequence[Result], now: datetime) -> None:
        """Write many answers in one transaction."""
        if results:
            with self._write() as conn:
                record_on(conn, results, self._stamp(conn, now))

    @staticmethod
    def _stamp(conn: Any, now: datetime) -> Any:
        """``now`` as the driver takes it for a ledger time (UTC; text on SQLite)."""
        return LEDGER.c.updated_at.type.bind_processor(conn.dialect)(now)

    def release(self, entry_ids: Sequence[int]) -> None:
        """Drop claims that certainly were not sent (e.g. the API refused the key)."""
        if not entry_ids:
            return
        with self._write() as conn:
            conn.execute(
                delete(LEDGER).where(and_(LEDGER.c.id.in_(list(entry_ids)), LEDGER.c.state == State.UNKNOWN.value))
            )

    def skip_unsent(
        self,
        campaign: str,
        year: int,
        stage: str,
        *,
        reason: str,
        claim_id: str,
        transport: str,
        now: datetime,
        zones: Iterable[str] | None = None,
        consented_before: datetime | None = None,
    ) -> int:
        """Record every eligible subscriber without an entry as skipped, with why."""
        stmt = self._insert_entries(
            campaign,
            year,
            stage,
            state=State.SKIPPED,
            reason=reason,
            claim_id=claim_id,
            transport=transport,
            now=now,
            where=self._eligible(campaign, year, stage, zones, consented_before),
        )
        # Counted from RETURNING, not rowcount: drivers disagree on rowcount for
        # INSERT .. SELECT (psycopg reports -1 here). Streamed, never held as a list.
        with self._write() as conn:
            return sum(1 for _ in conn.execute(stmt.returning(LEDGER.c.id)))

    def count_unsent(
        self,
        campaign: str,
        year: int,
        stage: str,
        zones: Iterable[str] | None = None,
        consented_before: datetime | None = None,
    ) -> int:
        with self._read() as conn:
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

    def iter_unsent(self, campaign: str, year: int, stage: str, chunk: int = 1000) -> Iterator[Candidate]:
        """What a send would claim, without claiming it (for --dry-run)."""
        after = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    select(
                        SUBSCRIBER.c.id,
                        SUBSCRIBER.c.email,
                        SUBSCRIBER.c.name,
                        SUBSCRIBER.c.language,
                        SUBSCRIBER.c.timezone,
                    )
                    .where(and_(SUBSCRIBER.c.id > after, self._eligible(campaign, year, stage, None, None)))
                    .order_by(SUBSCRIBER.c.id)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            yield from (Candidate(*r) for r in rows)
            after = rows[-1][0]

    def ledger_counts(self, campaign: str, year: int) -> dict[str, dict[str, int]]:
        """{stage: {state: n}} for one campaign year."""
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            rows = conn.execute(
                select(LEDGER.c.stage, LEDGER.c.state, func.count())
                .where(and_(LEDGER.c.campaign == campaign, LEDGER.c.year == year))
                .group_by(LEDGER.c.stage, LEDGER.c.state)
            )
            for stage, state, n in rows:
                out.setdefault(str(stage), {})[str(state)] = int(n)
        return out

    def reasons(self, campaign: str, year: int, stage: str, state: State, limit: int = 10) -> list[tuple[str, int]]:
        """Why entries ended in ``state``: each reason with its count, commonest first."""
        n = func.count().label("n")
        query = (
            select(LEDGER.c.reason, n)
            .where(
                and_(
                    LEDGER.c.campaign == campaign,
                    LEDGER.c.year == year,
                    LEDGER.c.stage == stage,
                    LEDGER.c.state == state.value,
                )
            )
            .group_by(LEDGER.c.reason)
            .order_by(n.desc(), LEDGER.c.reason)
            .limit(limit)
        )
        with self._read() as conn:
            return [(str(reason or "no reason recorded"), int(count)) for reason, count in conn.execute(query)]

    def entries(
        self,
        campaign: str,
        year: int,
        stage: str | None = None,
        state: State | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        query = (
            select(LEDGER, SUBSCRIBER.c.email)
            .join(SUBSCRIBER, SUBSCRIBER.c.id == LEDGER.c.subscriber_id)
            .where(and_(LEDGER.c.campaign == campaign, LEDGER.c.year == year))
            .order_by(LEDGER.c.id)
        )
        if stage is not None:
            query = query.where(LEDGER.c.stage == stage)
        if state is not None:
            query = query.where(LEDGER.c.state == state.value)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def forget_entries(self, entry_ids: Sequence[int], state: State) -> int:
        """Delete entries in ``state`` so the next send covers them again (a deliberate resend)."""
        with self._write() as conn:
            res = conn.execute(
                delete(LEDGER).where(and_(LEDGER.c.id.in_(list(entry_ids)), LEDGER.c.state == state.value))
            )
            return int(res.rowcount or 0)
