"""The ledger: read candidates, claim, record, skip, count. Claims are portable:
``INSERT ... ON CONFLICT DO NOTHING`` on the unique (campaign, year, stage, subscriber)
key, inside ``BEGIN IMMEDIATE`` on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    and_,
    delete,
    func,
    literal,
    select,
)

from scheduler.core.outcomes import Result, State, Status
from scheduler.store.base import LEDGER, SUBSCRIBER, Candidate
from scheduler.store.driver import candidate_of, driver_sql, hash_joins, id_list, record_on
from scheduler.store.leases import WindowLeases
from scheduler.store.waiting import WaitingQueries


class LedgerQueries(WaitingQueries):
    # -- the ledger --------------------------------------------------------------

    def _leases(self) -> WindowLeases:
        if "_window_leases" not in self.__dict__:
            self.__dict__["_window_leases"] = WindowLeases(self.engine)
        return cast(WindowLeases, self.__dict__["_window_leases"])

    def close(self) -> None:
        if "_window_leases" in self.__dict__:
            self.__dict__.pop("_window_leases").close()
        super().close()

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

        PostgreSQL: the window's entries are read by a range scan of the unique key and
        taken out here. With ``NOT EXISTS``, and statistics from before the send (an
        empty ledger), PostgreSQL rescanned the stage's entries per subscriber: a send
        grew with the square of its size (BENCHMARKS.md, PostgreSQL).
        """
        postgres = self.engine.dialect.name == "postgresql"
        if postgres:
            # Several senders split the stage by window (scheduler/store/leases.py).
            stage_key = (campaign, year, stage, None if zones is None else tuple(sorted(zones)))
            if not self._leases().take(stage_key, after, upto, last=upto >= self.max_subscriber_id()):
                return []
        query = select(
            SUBSCRIBER.c.id, SUBSCRIBER.c.email, SUBSCRIBER.c.name, SUBSCRIBER.c.language, SUBSCRIBER.c.timezone
        ).where(
            and_(
                SUBSCRIBER.c.id > after,
                SUBSCRIBER.c.id <= upto,
                # `status || ''` keeps the planner off the (status, zone) index, so the
                # primary-key window is what bounds the scan (portable: SQLite and PG).
                SUBSCRIBER.c.status.concat("") == Status.ACTIVE.value,
                *([] if postgres else [~self._has_entry(campaign, year, stage)]),
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
            rows = conn.execute(query).cursor.fetchall()
            if postgres and rows:
                entries = select(LEDGER.c.subscriber_id).where(
                    LEDGER.c.campaign == campaign,
                    LEDGER.c.year == year,
                    LEDGER.c.stage == stage,
                    LEDGER.c.subscriber_id > after,
                    LEDGER.c.subscriber_id <= upto,
                )
                done = {sid for (sid,) in conn.execute(entries)}
                if done:
                    rows = [r for r in rows if r[0] not in done]
            return list(map(candidate_of, rows))

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
        one commit per request instead of two.

        PostgreSQL, several senders at once: an insert meeting another transaction's
        uncommitted entry waits for it to end. So a claim first locks its subscribers
        ``FOR NO KEY UPDATE SKIP LOCKED`` (PostgreSQL manual, "The Locking Clause"):
        those another sender is claiming are passed over, not waited for; an entry
        another already committed is a free conflict. NO KEY UPDATE leaves the ledger's
        foreign-key checks (KEY SHARE) free. SQLite has one writer (BEGIN IMMEDIATE)."""
        if not subscriber_ids:
            return {}
        ids = id_list(subscriber_ids)
        columns = (
            "INSERT INTO ledger (campaign, year, stage, subscriber_id, state, reason, run_id, transport, updated_at)"
        )
        # `status || ''`: look the ids up by primary key, not through the (status,
        # zone) index of every active subscriber.
        chosen = f"FROM subscriber WHERE subscriber.id IN ({ids}) AND subscriber.status || '' = ?"
        conflict = " ON CONFLICT (campaign, year, stage, subscriber_id) DO NOTHING"
        first: tuple[Any, ...] = ()
        rest: tuple[Any, ...] = ()
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                insert = (
                    f"WITH mine AS (SELECT subscriber.id {chosen} ORDER BY subscriber.id"
                    " FOR NO KEY UPDATE SKIP LOCKED)"
                    f" {columns} SELECT ?, ?, ?, mine.id, ?, NULL, ?, ?, ? FROM mine{conflict}"
                )
                first = (Status.ACTIVE.value,)
            else:
                insert = f"{columns} SELECT ?, ?, ?, subscriber.id, ?, NULL, ?, ?, ? {chosen}{conflict}"
                rest = (Status.ACTIVE.value,)
            stamp = self._stamp(conn, now)
            record_on(conn, answers, stamp)
            params = (*first, campaign, year, stage, State.UNKNOWN.value, claim_id, transport, stamp, *rest)
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
            hash_joins(conn)
            return sum(1 for _ in conn.execute(stmt.returning(LEDGER.c.id)))

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
            where = and_(LEDGER.c.campaign == campaign, LEDGER.c.year == year)
            if self.engine.dialect.name == "sqlite" and self._mostly_this_year(conn, campaign, year):
                # The state is in no index (each index costs every claim), so each entry
                # is read from the table: in table order when this year is most of it,
                # not one lookup per entry through the key (BENCHMARKS.md, status at a
                # million: 0.35 s against 0.70 s for a million entries). `|| ''` and
                # `+ 0` keep the planner off the key, as SQLite's docs suggest.
                where = and_(LEDGER.c.campaign.concat("") == campaign, (LEDGER.c.year + 0) == year)
            rows = conn.execute(
                select(LEDGER.c.stage, LEDGER.c.state, func.count())
                .where(where)
                .group_by(LEDGER.c.stage, LEDGER.c.state)
            )
            for stage, state, n in rows:
                out.setdefault(str(stage), {})[str(state)] = int(n)
        return out

    @staticmethod
    def _mostly_this_year(conn: Any, campaign: str, year: int) -> bool:
        """Whether the year's entries are at least half the ledger: counted on the key
        alone, never reading the table (a few milliseconds)."""
        mine = conn.execute(
            select(func.count()).select_from(LEDGER).where(and_(LEDGER.c.campaign == campaign, LEDGER.c.year == year))
        ).scalar_one()
        top = conn.execute(select(func.max(LEDGER.c.id))).scalar()
        return bool(top) and 2 * int(mine) >= int(top)

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
