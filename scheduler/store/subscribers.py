"""Subscribers: add, update, stream, count, remove."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    delete,
    func,
    insert,
    select,
    update,
)

from scheduler.core.outcomes import Status
from scheduler.store.base import LEDGER, SUBSCRIBER, StoreBase, SubscriberRow


class SubscriberQueries(StoreBase):
    # -- subscribers -------------------------------------------------------------

    def upsert_subscribers(self, rows: Sequence[SubscriberRow], source: str, now: datetime) -> dict[str, int]:
        """Add new subscribers as active (the organizer vouches for their consent) and
        update a changed name, language or zone. Returns counts of added/updated/unchanged."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        if not rows:
            return counts
        with self._write() as conn:
            for chunk_start in range(0, len(rows), 500):
                chunk = rows[chunk_start : chunk_start + 500]
                keys = [r.email.lower() for r in chunk]
                existing = {
                    row.email_key: row
                    for row in conn.execute(
                        select(
                            SUBSCRIBER.c.id,
                            SUBSCRIBER.c.email_key,
                            SUBSCRIBER.c.name,
                            SUBSCRIBER.c.language,
                            SUBSCRIBER.c.timezone,
                        ).where(SUBSCRIBER.c.email_key.in_(keys))
                    )
                }
                for r, key in zip(chunk, keys, strict=True):
                    old = existing.get(key)
                    if old is None:
                        conn.execute(
                            insert(SUBSCRIBER).values(
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
                            update(SUBSCRIBER)
                            .where(SUBSCRIBER.c.email_key == key)
                            .values(name=r.name, language=r.language, timezone=r.timezone, updated_at=now)
                        )
                        counts["updated"] += 1
                    else:
                        counts["unchanged"] += 1
        return counts

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
        with self._read() as conn:
            rows = conn.execute(
                select(SUBSCRIBER.c.timezone).where(SUBSCRIBER.c.status == Status.ACTIVE.value).distinct()
            )
            return sorted(r[0] for r in rows)

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
