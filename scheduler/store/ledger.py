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
    update,
)

from scheduler.models import State, Status
from scheduler.store.base import Claimed, L, Result, S, StoreBase, _bind


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
        already = exists().where(
            and_(
                L.c.campaign == campaign,
                L.c.year == year,
                L.c.stage == stage,
                L.c.subscriber_id == S.c.id,
            )
        )
        cond = and_(S.c.status == Status.ACTIVE.value, ~already)
        if zones is not None:
            cond = and_(cond, S.c.timezone.in_(list(zones)))
        if consented_before is not None:
            cond = and_(cond, S.c.consent_at <= consented_before)
        return cond

    def record(self, results: Sequence[Result], now: datetime) -> None:
        """Write the transport's answers, in one transaction per batch."""
        if not results:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(L)
                .where(L.c.id == _bind("eid"))
                .values(state=_bind("st"), message_id=_bind("mid"), reason=_bind("why"), updated_at=now),
                [{"eid": r.entry_id, "st": r.state.value, "mid": r.message_id, "why": r.reason} for r in results],
            )

    def max_subscriber_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(S.c.id))).scalar() or 0)

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
    ) -> list[Claimed]:
        """Read, without claiming, every eligible subscriber with ``after < id <= upto``
        (entry_id 0); with ``grouped``, in content-group order (language, zone, named).

        Reading ahead is free; claiming ahead is not: a claim reads ``unknown`` until
        the transport answers, so whatever is claimed but still waiting for its group
        when the process is killed would never be sent. Batches are therefore claimed
        by :meth:`claim_subscribers` just before they go out.

        Issue 3 (1M benchmark): with ``ORDER BY id LIMIT n`` SQLite picks the
        (status, zone) index and sorts every active subscriber on each read, which is
        quadratic over a large list; a primary-key window is a range scan, so a send
        stays linear in the number of subscribers.
        """
        query = select(literal(0), S.c.id, S.c.email, S.c.name, S.c.language, S.c.timezone).where(
            and_(
                S.c.id > after,
                S.c.id <= upto,
                # `status || ''` keeps the planner off the (status, zone) index, so the
                # primary-key window is what bounds the scan (portable: SQLite and PG).
                S.c.status.concat("") == Status.ACTIVE.value,
                ~self._has_entry(campaign, year, stage),
                *([S.c.timezone.in_(list(zones))] if zones is not None else []),
            )
        )
        query = (
            query.order_by(S.c.language, S.c.timezone, S.c.name == "", S.c.id) if grouped else query.order_by(S.c.id)
        )
        with self.engine.connect() as conn:
            return [Claimed(*r) for r in conn.execute(query)]

    def claim_subscribers(
        self,
        campaign: str,
        year: int,
        stage: str,
        candidates: Sequence[Claimed],
        *,
        claim_id: str,
        transport: str,
        now: datetime,
    ) -> list[Claimed]:
        """Atomically claim the entries of these candidates (from
        :meth:`candidates_range`) and return, in the given order, those this call won:
        another sender may have claimed some meanwhile, or a subscriber may have left.
        ``RETURNING`` (SQLite 3.35+, PostgreSQL) names the rows won, without reading
        the ledger back."""
        if not candidates:
            return []
        by_id = {c.subscriber_id: c for c in candidates}
        subscriber_ids = list(by_id)
        stmt = self._insert_entries(
            campaign,
            year,
            stage,
            state=State.UNKNOWN,
            claim_id=claim_id,
            transport=transport,
            now=now,
            where=and_(
                S.c.id.in_(subscriber_ids),
                # `status || ''`: look the ids up by primary key, not by scanning the
                # (status, zone) index for every active subscriber.
                S.c.status.concat("") == Status.ACTIVE.value,
                ~self._has_entry(campaign, year, stage),
            ),
        ).returning(L.c.id, L.c.subscriber_id)
        with self._write() as conn:
            won = {sid: eid for eid, sid in conn.execute(stmt)}
        return [
            Claimed(won[sid], sid, c.email, c.name, c.language, c.timezone) for sid, c in by_id.items() if sid in won
        ]

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
        """``INSERT .. SELECT`` one ledger entry per subscriber matching ``where``;
        ``ON CONFLICT DO NOTHING`` on the unique key is what makes a claim atomic."""
        chosen = select(
            literal(campaign),
            literal(year),
            literal(stage),
            S.c.id,
            literal(state.value),
            literal(reason),
            literal(claim_id),
            literal(transport),
            literal(now, L.c.updated_at.type),
        ).where(where)
        columns = ["campaign", "year", "stage", "subscriber_id", "state", "reason", "run_id", "transport", "updated_at"]
        return (
            self._insert(L)
            .from_select(columns, chosen)
            .on_conflict_do_nothing(index_elements=["campaign", "year", "stage", "subscriber_id"])
        )

    @staticmethod
    def _has_entry(campaign: str, year: int, stage: str) -> Any:
        return exists().where(
            and_(L.c.campaign == campaign, L.c.year == year, L.c.stage == stage, L.c.subscriber_id == S.c.id)
        )

    def record_all(self, results: Sequence[Result], now: datetime) -> None:
        """Write many answers in one transaction (issue 3). Entries sharing an answer (a
        SendGrid request has one X-Message-Id) are updated with ``WHERE id IN``, the
        rest row by row. One transaction per flush rather than per request matters:
        the batches of one content group interleave over the id range, so each
        transaction would rewrite most ledger pages again."""
        from sqlalchemy import bindparam, text

        if not results:
            return
        shared: dict[tuple[str, str | None, str | None], list[int]] = {}
        for r in results:
            shared.setdefault((r.state.value, r.message_id, r.reason), []).append(r.entry_id)
        single = [(k, ids[0]) for k, ids in shared.items() if len(ids) == 1]
        with self._write() as conn:
            for (state, mid, why), ids in shared.items():
                if len(ids) == 1:
                    continue
                ids.sort()
                for start in range(0, len(ids), 1000):
                    # The ids are integers from the ledger itself, written into the
                    # statement: SQLAlchemy's expanding IN costs ~9 us per bound id,
                    # more than SQLite's whole update of the row (issue 3 benchmark).
                    in_list = ",".join(str(int(i)) for i in ids[start : start + 1000])
                    conn.execute(
                        text(
                            "UPDATE ledger SET state = :st, message_id = :mid, reason = :why, updated_at = :now"
                            f" WHERE id IN ({in_list})"
                        ).bindparams(bindparam("now", type_=L.c.updated_at.type)),
                        {"st": state, "mid": mid, "why": why, "now": now},
                    )
            if single:
                conn.execute(
                    update(L)
                    .where(L.c.id == _bind("eid"))
                    .values(state=_bind("st"), message_id=_bind("mid"), reason=_bind("why"), updated_at=now),
                    [{"eid": eid, "st": st, "mid": mid, "why": why} for (st, mid, why), eid in single],
                )

    def release(self, entry_ids: Sequence[int]) -> None:
        """Drop claims that certainly were not sent (e.g. the API refused the key)."""
        if not entry_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(delete(L).where(and_(L.c.id.in_(list(entry_ids)), L.c.state == State.UNKNOWN.value)))

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
        # Counted, not rowcount: drivers disagree on rowcount for INSERT .. SELECT
        # (psycopg reports -1 here).
        mine = select(func.count()).select_from(L).where(L.c.run_id == claim_id)
        with self.engine.begin() as conn:
            before = int(conn.execute(mine).scalar() or 0)
            conn.execute(stmt)
            return int(conn.execute(mine).scalar() or 0) - before

    def count_unsent(
        self,
        campaign: str,
        year: int,
        stage: str,
        zones: Iterable[str] | None = None,
        consented_before: datetime | None = None,
    ) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(S)
                    .where(self._eligible(campaign, year, stage, zones, consented_before))
                ).scalar()
                or 0
            )

    def iter_unsent(self, campaign: str, year: int, stage: str, chunk: int = 1000) -> Iterator[Claimed]:
        """What a send would claim, without claiming it (for --dry-run)."""
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(literal(0), S.c.id, S.c.email, S.c.name, S.c.language, S.c.timezone)
                    .where(and_(S.c.id > after, self._eligible(campaign, year, stage, None, None)))
                    .order_by(S.c.id)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            yield from (Claimed(*r) for r in rows)
            after = rows[-1][1]

    def ledger_counts(self, campaign: str, year: int) -> dict[str, dict[str, int]]:
        """{stage: {state: n}} for one campaign year."""
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(L.c.stage, L.c.state, func.count())
                .where(and_(L.c.campaign == campaign, L.c.year == year))
                .group_by(L.c.stage, L.c.state)
            )
            for stage, state, n in rows:
                out.setdefault(str(stage), {})[str(state)] = int(n)
        return out

    def entries(
        self,
        campaign: str,
        year: int,
        stage: str | None = None,
        state: State | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        query = (
            select(L, S.c.email)
            .join(S, S.c.id == L.c.subscriber_id)
            .where(and_(L.c.campaign == campaign, L.c.year == year))
            .order_by(L.c.id)
        )
        if stage is not None:
            query = query.where(L.c.stage == stage)
        if state is not None:
            query = query.where(L.c.state == state.value)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def forget_entries(self, entry_ids: Sequence[int], state: State) -> int:
        """Delete entries in ``state`` so the next send covers them again (a deliberate resend)."""
        with self.engine.begin() as conn:
            res = conn.execute(delete(L).where(and_(L.c.id.in_(list(entry_ids)), L.c.state == state.value)))
            return int(res.rowcount or 0)
