"""Subscribers: add, update, stream, count, remove."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from scheduler.core.outcomes import Status
from scheduler.store.base import LEDGER, SUBSCRIBER, StoreBase, SubscriberRow
from scheduler.store.driver import driver_sql

#: rows looked up and written per round trip: a large import never holds every key at once
CHUNK = 500


@dataclass(frozen=True)
class ImportRow(SubscriberRow):
    """A subscriber with what a file says about their consent, as an export writes it.
    Each field counts only when the subscriber is new; None keeps the default (active,
    now, the caller's source). An existing subscriber's status and consent are never
    touched: a file must not re-activate someone who unsubscribed or bounced."""

    status: Status | None = None
    consent_at: datetime | None = None
    consent_source: str | None = None


class Upserted(NamedTuple):
    #: the address as stored: an existing subscriber keeps the spelling they were added with
    email: str
    #: "added", "updated" or "unchanged"
    outcome: str


class _Stored(NamedTuple):
    email: str
    name: str
    language: str
    timezone: str


_NEXT_ZONE = text(
    "WITH RECURSIVE z(tz) AS ("
    " SELECT MIN(timezone) FROM subscriber WHERE status = :active"
    " UNION ALL"
    " SELECT (SELECT MIN(timezone) FROM subscriber WHERE status = :active AND timezone > z.tz) FROM z"
    " WHERE z.tz IS NOT NULL"
    ") SELECT tz FROM z WHERE tz IS NOT NULL"
)


class SubscriberQueries(StoreBase):
    # -- subscribers -------------------------------------------------------------

    def upsert_subscribers(self, rows: Sequence[SubscriberRow], source: str, now: datetime) -> dict[str, int]:
        """:meth:`upsert_subscribers_each`, counted: added/updated/unchanged."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        for done in self.upsert_subscribers_each(rows, source, now):
            counts[done.outcome] += 1
        return counts

    def upsert_subscribers_each(self, rows: Sequence[SubscriberRow], source: str, now: datetime) -> list[Upserted]:
        """In one transaction, add new subscribers as active with consent ``now`` from
        ``source`` (the organizer vouches for it) unless an :class:`ImportRow` says
        otherwise, and update an existing one's changed name, language or zone; their
        status and consent stay. Returns each row's address as stored and its outcome."""
        done: list[Upserted] = []
        if not rows:
            return done
        with self._write() as conn:
            for chunk_start in range(0, len(rows), CHUNK):
                chunk = rows[chunk_start : chunk_start + CHUNK]
                keys = [r.email.lower() for r in chunk]
                existing = {
                    row.email_key: _Stored(row.email, row.name, row.language, row.timezone)
                    for row in conn.execute(
                        select(
                            SUBSCRIBER.c.email_key,
                            SUBSCRIBER.c.email,
                            SUBSCRIBER.c.name,
                            SUBSCRIBER.c.language,
                            SUBSCRIBER.c.timezone,
                        ).where(SUBSCRIBER.c.email_key.in_(keys))
                    )
                }
                # The chunk's new rows go in by one statement, in order (ids follow the
                # input); a later row with the same address changes the pending values.
                new: dict[str, dict[str, Any]] = {}
                for r, key in zip(chunk, keys, strict=True):
                    old = existing.get(key)
                    if old is None:
                        new[key] = _new_values(r, key, source, now)
                        existing[key] = _Stored(r.email, r.name, r.language, r.timezone)
                        done.append(Upserted(r.email, "added"))
                        continue
                    if (old.name, old.language, old.timezone) == (r.name, r.language, r.timezone):
                        done.append(Upserted(old.email, "unchanged"))
                        continue
                    changed = {"name": r.name, "language": r.language, "timezone": r.timezone}
                    if key in new:
                        new[key].update(changed)
                    else:
                        conn.execute(
                            update(SUBSCRIBER).where(SUBSCRIBER.c.email_key == key).values(**changed, updated_at=now)
                        )
                    existing[key] = old._replace(**changed)
                    done.append(Upserted(old.email, "updated"))
                if new:
                    conn.execute(insert(SUBSCRIBER), list(new.values()))
        return done

    def import_subscribers(self, rows: Sequence[ImportRow], source: str, now: datetime) -> dict[str, int]:
        """One transaction of an import: added/updated/unchanged. As
        :meth:`upsert_subscribers`, a new subscriber is added as the row says (active,
        consent ``now`` from ``source`` by default) and an existing one's changed name,
        language or zone is updated while their status and consent stay; but the rows
        go in by two ``executemany`` statements, not a statement or a lookup each
        (BENCHMARKS.md, import). The rows must name distinct addresses, as an import's
        reader makes them.

        ``INSERT ... ON CONFLICT (email_key) DO NOTHING`` adds the new ones (ids in the
        file's order); where it added fewer than all, one ``UPDATE`` a row changes those
        whose name, language or zone differ. Each statement's row count gives the counts."""
        if not rows:
            return {"added": 0, "updated": 0, "unchanged": 0}
        active = Status.ACTIVE.value
        with self._write() as conn:
            stamp = _stamp_for(conn)
            at = stamp(now)
            added = driver_sql(
                conn,
                "INSERT INTO subscriber (email, email_key, name, language, timezone, status, consent_at,"
                " consent_source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (email_key) DO NOTHING",
                [
                    (
                        r.email,
                        r.email.lower(),
                        r.name,
                        r.language,
                        r.timezone,
                        r.status.value if r.status else active,
                        stamp(r.consent_at) if r.consent_at else at,
                        r.consent_source or source,
                        at,
                        at,
                    )
                    for r in rows
                ],
            ).rowcount
            updated = 0
            if added < len(rows):
                updated = driver_sql(
                    conn,
                    "UPDATE subscriber SET name = ?, language = ?, timezone = ?, updated_at = ? WHERE email_key = ?"
                    " AND (name <> ? OR language <> ? OR timezone <> ?)",
                    [
                        (r.name, r.language, r.timezone, at, r.email.lower(), r.name, r.language, r.timezone)
                        for r in rows
                    ],
                ).rowcount
        return {"added": added, "updated": updated, "unchanged": len(rows) - added - updated}

    def remove_subscriber(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows: no personal data stays behind."""
        with self._write() as conn:
            sid = conn.execute(select(SUBSCRIBER.c.id).where(SUBSCRIBER.c.email_key == email.lower())).scalar()
            if sid is None:
                return False
            conn.execute(delete(LEDGER).where(LEDGER.c.subscriber_id == sid))
            conn.execute(delete(SUBSCRIBER).where(SUBSCRIBER.c.id == sid))
            return True

    def iter_subscribers(self, status: Status | None = None, chunk: int = 1000) -> Iterator[dict[str, Any]]:
        """Streamed by keyset pages, never all in memory."""
        after = 0
        while True:
            query = select(SUBSCRIBER).where(SUBSCRIBER.c.id > after).order_by(SUBSCRIBER.c.id).limit(chunk)
            if status is not None:
                query = query.where(SUBSCRIBER.c.status == status.value)
            with self._read() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
            if not rows:
                return
            yield from rows
            after = rows[-1]["id"]

    def count_subscribers(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(select(SUBSCRIBER.c.status, func.count()).group_by(SUBSCRIBER.c.status))
            return {str(status): int(n) for status, n in rows}

    def active_zones(self) -> list[str]:
        """The zones of active subscribers. A ``DISTINCT`` reads every active subscriber's
        index entry (~0.1 s for a million); this skips from each zone to the next along
        the (status, timezone) index, a seek per zone (SQLite and PostgreSQL alike;
        BENCHMARKS.md, status, count and run-due)."""
        with self._read() as conn:
            rows = conn.execute(_NEXT_ZONE, {"active": Status.ACTIVE.value})
            return sorted(str(r[0]) for r in rows)

    def active_languages(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(
                select(SUBSCRIBER.c.language, func.count())
                .where(SUBSCRIBER.c.status == Status.ACTIVE.value)
                .group_by(SUBSCRIBER.c.language)
            )
            return {str(lang): int(n) for lang, n in rows}

    def get_subscriber(self, email: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(SUBSCRIBER).where(SUBSCRIBER.c.email_key == email.lower())).first()
            return dict(row._mapping) if row else None


def _new_values(r: SubscriberRow, key: str, source: str, now: datetime) -> dict[str, Any]:
    status, consent_at, consent_source = None, None, None
    if isinstance(r, ImportRow):
        status, consent_at, consent_source = r.status, r.consent_at, r.consent_source
    return {
        "email": r.email,
        "email_key": key,
        "name": r.name,
        "language": r.language,
        "timezone": r.timezone,
        "status": (status or Status.ACTIVE).value,
        "consent_at": consent_at or now,
        "consent_source": consent_source or source,
        "created_at": now,
        "updated_at": now,
    }


def _stamp_for(conn: Any) -> Callable[[datetime], Any]:
    """A subscriber time as the driver takes it: UTC, and on SQLite the text SQLAlchemy
    writes (microseconds always shown), so times compare as text as they did before."""
    kind = SUBSCRIBER.c.created_at.type
    process = kind.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return cast(Callable[[datetime], Any], process)
