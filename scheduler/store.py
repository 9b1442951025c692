"""Every SQL statement the package runs. SQLite is the default; PostgreSQL works too.

Claims are portable: an entry is claimed by ``INSERT ... ON CONFLICT DO NOTHING`` on the
ledger's unique (campaign, year, stage, subscriber) key, so two senders on one database
can never both own an entry. On SQLite each write transaction starts with
``BEGIN IMMEDIATE`` (issue 4, section 3) so concurrent claimers queue instead of
failing half-way with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import SQLModel, create_engine

from scheduler.errors import SchedulerError
from scheduler.models import HeadsUp, LedgerEntry, Run, State, Status, Subscriber

S = Subscriber.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
R = Run.__table__  # type: ignore[attr-defined]
H = HeadsUp.__table__  # type: ignore[attr-defined]


class StoreError(SchedulerError):
    pass


@dataclass(frozen=True)
class SubscriberRow:
    email: str
    name: str
    language: str
    timezone: str


@dataclass(frozen=True)
class Claimed:
    entry_id: int
    subscriber_id: int
    email: str
    name: str
    language: str
    timezone: str


@dataclass(frozen=True)
class Result:
    entry_id: int
    state: State
    message_id: str | None = None
    reason: str | None = None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE sticks.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            SQLModel.metadata.create_all(self.engine)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"cannot open database {self._safe_url()}: {exc}") from None

    def _safe_url(self) -> str:
        # Never print a password that a PostgreSQL URL may carry.
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: Any) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            return sqlite.insert(table)
        if dialect == "postgresql":
            return postgresql.insert(table)
        raise StoreError(f"unsupported database dialect {dialect!r}: use sqlite or postgresql")

    # -- subscribers -------------------------------------------------------------

    def upsert_subscribers(self, rows: Sequence[SubscriberRow], source: str, now: datetime) -> dict[str, int]:
        """Add new subscribers as active (the organizer vouches for their consent) and
        update a changed name, language or zone. Returns counts of added/updated/unchanged."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        if not rows:
            return counts
        with self.engine.begin() as conn:
            for chunk_start in range(0, len(rows), 500):
                chunk = rows[chunk_start : chunk_start + 500]
                keys = [r.email.lower() for r in chunk]
                existing = {
                    row.email_key: row
                    for row in conn.execute(
                        select(S.c.id, S.c.email_key, S.c.name, S.c.language, S.c.timezone).where(
                            S.c.email_key.in_(keys)
                        )
                    )
                }
                for r, key in zip(chunk, keys, strict=True):
                    old = existing.get(key)
                    if old is None:
                        conn.execute(
                            insert(S).values(
                                email=r.email,
                                email_key=key,
                                name=r.name,
                                language=r.language,
                                timezone=r.timezone,
                                status=Status.ACTIVE.value,
                                consent_at=now,
                                consent_source=source,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                        counts["added"] += 1
                        existing[key] = r  # type: ignore[assignment]  # a duplicate row later in the file
                    elif (old.name, old.language, old.timezone) != (r.name, r.language, r.timezone):
                        conn.execute(
                            update(S)
                            .where(S.c.email_key == key)
                            .values(name=r.name, language=r.language, timezone=r.timezone, updated_at=now)
                        )
                        counts["updated"] += 1
                    else:
                        counts["unchanged"] += 1
        return counts

    def set_status(self, email: str, status: Status, now: datetime) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                update(S).where(S.c.email_key == email.lower()).values(status=status.value, updated_at=now)
            )
            return bool(res.rowcount)

    def remove_subscriber(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows: no personal data stays behind."""
        with self.engine.begin() as conn:
            sid = conn.execute(select(S.c.id).where(S.c.email_key == email.lower())).scalar()
            if sid is None:
                return False
            conn.execute(delete(L).where(L.c.subscriber_id == sid))
            conn.execute(delete(S).where(S.c.id == sid))
            return True

    def iter_subscribers(self, status: Status | None = None, chunk: int = 1000) -> Iterator[dict[str, Any]]:
        """Streamed by keyset pages, never all in memory."""
        after = 0
        while True:
            query = select(S).where(S.c.id > after).order_by(S.c.id).limit(chunk)
            if status is not None:
                query = query.where(S.c.status == status.value)
            with self.engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
            if not rows:
                return
            yield from rows
            after = rows[-1]["id"]

    def count_subscribers(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(S.c.status, func.count()).group_by(S.c.status))
            return {str(status): int(n) for status, n in rows}

    def active_zones(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(S.c.timezone).where(S.c.status == Status.ACTIVE.value).distinct())
            return sorted(r[0] for r in rows)

    def active_languages(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(S.c.language, func.count()).where(S.c.status == Status.ACTIVE.value).group_by(S.c.language)
            )
            return {str(lang): int(n) for lang, n in rows}

    def get_subscriber(self, email: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(S).where(S.c.email_key == email.lower())).first()
            return dict(row._mapping) if row else None

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

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; a lock held past the busy timeout is one clear error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            if "locked" in str(exc):
                raise StoreError("the database stayed locked for 60 s; is another sender stuck?") from None
            raise

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
        chosen = select(
            literal(campaign),
            literal(year),
            literal(stage),
            S.c.id,
            literal(State.UNKNOWN.value),
            literal(claim_id),
            literal(transport),
            literal(now, L.c.updated_at.type),
        ).where(
            and_(
                S.c.id.in_(list(subscriber_ids)),
                # `status || ''`: look the ids up by primary key, not by scanning the
                # (status, zone) index for every active subscriber.
                S.c.status.concat("") == Status.ACTIVE.value,
                ~self._has_entry(campaign, year, stage),
            )
        )
        stmt = (
            self._insert(L)
            .from_select(
                ["campaign", "year", "stage", "subscriber_id", "state", "run_id", "transport", "updated_at"], chosen
            )
            .on_conflict_do_nothing(index_elements=["campaign", "year", "stage", "subscriber_id"])
            .returning(L.c.id, L.c.subscriber_id)
        )
        with self._write() as conn:
            won = {sid: eid for eid, sid in conn.execute(stmt)}
        return [
            Claimed(won[sid], sid, c.email, c.name, c.language, c.timezone) for sid, c in by_id.items() if sid in won
        ]

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
        chosen = select(
            literal(campaign),
            literal(year),
            literal(stage),
            S.c.id,
            literal(State.SKIPPED.value),
            literal(reason),
            literal(claim_id),
            literal(transport),
            literal(now, L.c.updated_at.type),
        ).where(self._eligible(campaign, year, stage, zones, consented_before))
        stmt = (
            self._insert(L)
            .from_select(
                ["campaign", "year", "stage", "subscriber_id", "state", "reason", "run_id", "transport", "updated_at"],
                chosen,
            )
            .on_conflict_do_nothing(index_elements=["campaign", "year", "stage", "subscriber_id"])
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

    # -- runs --------------------------------------------------------------------

    def start_run(self, run_id: str, command: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(R).values(id=run_id, command=command, started_at=now))

    def finish_run(self, run_id: str, summary: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(R).where(R.c.id == run_id).values(finished_at=now, summary=summary))

    def last_run(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(R).order_by(R.c.started_at.desc()).limit(1)).first()
            return dict(row._mapping) if row else None

    # -- the organizers' heads-up (issue 4, section 4) ------------------------------

    def claim_heads_up(self, campaign: str, year: int, recipients: Sequence[str], now: datetime) -> bool:
        """Claim the one heads-up of a campaign year; False when another process already
        claimed or sent it. Same INSERT ... ON CONFLICT DO NOTHING as the ledger."""
        stmt = (
            self._insert(H)
            .values(campaign=campaign, year=year, state="claimed", recipients=", ".join(recipients), updated_at=now)
            .on_conflict_do_nothing(index_elements=["campaign", "year"])
        )
        with self._write() as conn:
            return bool(conn.execute(stmt).rowcount)

    def record_heads_up(self, campaign: str, year: int, message_id: str | None, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(H)
                .where(and_(H.c.campaign == campaign, H.c.year == year))
                .values(state="sent", message_id=message_id, updated_at=now)
            )

    def release_heads_up(self, campaign: str, year: int) -> None:
        """Give back a claim whose send failed, so the next wake tries again."""
        with self.engine.begin() as conn:
            conn.execute(delete(H).where(and_(H.c.campaign == campaign, H.c.year == year, H.c.state == "claimed")))

    def heads_up(self, campaign: str, year: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(H).where(and_(H.c.campaign == campaign, H.c.year == year))).first()
            return dict(row._mapping) if row else None


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)
