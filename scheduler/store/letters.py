"""The statement for the record's statements (README: The statement for the record): a
letter and its deliveries recorded together, the queue claimed in order under each
target's hourly limit, and the counts.

At most one letter per (campaign, year, subscriber): the unique key decides, so two
submissions at once record one letter and the other sees it. A delivery is claimed
(``queued`` -> ``sending``) in a write transaction before it is sent: on SQLite that
transaction is BEGIN IMMEDIATE, on PostgreSQL it holds an advisory lock, so the count of
a target's letters in the last hour and the claim that adds to it are never interleaved
with another process's, and no delivery is claimed twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.engine import Connection

from scheduler.store.base import SUBSCRIBER, StoreBase
from scheduler.store.tables import Letter, LetterDelivery

LETTER = Letter.__table__  # type: ignore[attr-defined]
DELIVERY = LetterDelivery.__table__  # type: ignore[attr-defined]

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
TARGET, COPY = "target", "copy"
#: the advisory lock a PostgreSQL claim holds (any constant unique to this use)
PG_CLAIM_LOCK = 0x616E7634  # "anv4"
#: queued rows looked at per claim beyond what is claimed
SCAN_ROWS = 5000


class Recorded(NamedTuple):
    letter_id: int
    #: False when the subscriber had already sent this campaign year's letter
    new: bool


class Claimed(NamedTuple):
    """A delivery claimed for sending, with what its message needs."""

    id: int
    letter_id: int
    kind: str
    target_email: str
    target_name: str
    target_language: str
    subscriber_id: int
    subscriber_email: str
    campaign: str
    year: int
    language: str
    name: str
    address: str
    subject: str
    text: str


class LetterQueries(StoreBase):
    def record_letter(
        self, letter: dict[str, Any], targets: Sequence[dict[str, str]], now: datetime, *, copy: bool
    ) -> Recorded:
        """Record a letter with one queued delivery per target (and the subscriber's
        copy), and remember the subscriber's region; or, when this campaign year's
        letter exists already, change nothing and name it."""
        stmt = (
            self._insert(LETTER)
            .values(**letter, created_at=now)
            .on_conflict_do_nothing(index_elements=["campaign", "year", "subscriber_id"])
            .returning(LETTER.c.id)
        )
        with self._write() as conn:
            new_id = conn.execute(stmt).scalar()
            if new_id is None:
                return Recorded(self._letter_id(conn, letter), False)
            rows = [
                {
                    "letter_id": new_id,
                    "kind": TARGET,
                    "target_key": t["email"].lower(),
                    "target_email": t["email"],
                    "target_name": t["name"],
                    "target_title": t.get("title", ""),
                    "target_language": t.get("language", ""),
                    "state": QUEUED,
                    "queued_at": now,
                }
                for t in targets
            ]
            if copy:
                # The copy's key cannot be a target's: no address has a space in it.
                rows.append(
                    {
                        "letter_id": new_id,
                        "kind": COPY,
                        "target_key": f"copy {new_id}",
                        "target_email": "",
                        "target_name": letter["name"],
                        "target_title": "",
                        "target_language": letter["language"],
                        "state": QUEUED,
                        "queued_at": now,
                    }
                )
            if rows:
                conn.execute(DELIVERY.insert(), rows)
            conn.execute(
                update(SUBSCRIBER)
                .where(SUBSCRIBER.c.id == letter["subscriber_id"])
                .values(region=letter["region"], updated_at=now)
            )
            return Recorded(int(new_id), True)

    @staticmethod
    def _letter_id(conn: Connection, letter: dict[str, Any]) -> int:
        return int(
            conn.execute(
                select(LETTER.c.id).where(
                    and_(
                        LETTER.c.campaign == letter["campaign"],
                        LETTER.c.year == letter["year"],
                        LETTER.c.subscriber_id == letter["subscriber_id"],
                    )
                )
            ).scalar_one()
        )

    def letter_of(self, campaign: str, year: int, subscriber_id: int) -> dict[str, Any] | None:
        """The subscriber's letter of this campaign year with its ``deliveries`` (the
        targets, in order, the copy left out); None when there is none yet."""
        with self._read() as conn:
            row = conn.execute(
                select(LETTER).where(
                    and_(LETTER.c.campaign == campaign, LETTER.c.year == year, LETTER.c.subscriber_id == subscriber_id)
                )
            ).first()
            if row is None:
                return None
            deliveries = conn.execute(
                select(DELIVERY)
                .where(and_(DELIVERY.c.letter_id == row.id, DELIVERY.c.kind == TARGET))
                .order_by(DELIVERY.c.id)
            ).all()
        return {**dict(row._mapping), "deliveries": [dict(d._mapping) for d in deliveries]}

    def claim_deliveries(self, campaign: str, per_target_per_hour: int, limit: int, now: datetime) -> list[Claimed]:
        """Up to ``limit`` of the campaign's queued deliveries, oldest first, leaving out every target
        that has had ``per_target_per_hour`` letters in the hour before ``now`` (its
        later letters wait behind its earlier ones, so each target's go out in order).
        A target's letters of every campaign count toward its limit; the subscriber's
        copies are not limited."""
        if limit <= 0:
            return []
        since = now - timedelta(hours=1)
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_CLAIM_LOCK})
            counts: dict[str, int] = dict(
                conn.execute(
                    select(DELIVERY.c.target_key, func.count())
                    .where(
                        and_(
                            DELIVERY.c.kind == TARGET,
                            DELIVERY.c.claimed_at > since,
                            DELIVERY.c.state.in_((SENDING, SENT)),
                        )
                    )
                    .group_by(DELIVERY.c.target_key)
                ).all()
            )
            full = [key for key, n in counts.items() if n >= per_target_per_hour]
            query = (
                select(DELIVERY.c.id, DELIVERY.c.kind, DELIVERY.c.target_key)
                .join(LETTER, LETTER.c.id == DELIVERY.c.letter_id)
                .where(and_(DELIVERY.c.state == QUEUED, LETTER.c.campaign == campaign))
            )
            if full:
                query = query.where(DELIVERY.c.target_key.not_in(full))
            chosen: list[int] = []
            for row in conn.execute(query.order_by(DELIVERY.c.id).limit(SCAN_ROWS)):
                if row.kind == TARGET:
                    if counts.get(row.target_key, 0) >= per_target_per_hour:
                        continue
                    counts[row.target_key] = counts.get(row.target_key, 0) + 1
                chosen.append(row.id)
                if len(chosen) >= limit:
                    break
            if not chosen:
                return []
            conn.execute(
                update(DELIVERY)
                .where(and_(DELIVERY.c.id.in_(chosen), DELIVERY.c.state == QUEUED))
                .values(state=SENDING, claimed_at=now)
            )
            rows = conn.execute(
                select(
                    DELIVERY.c.id,
                    DELIVERY.c.letter_id,
                    DELIVERY.c.kind,
                    DELIVERY.c.target_email,
                    DELIVERY.c.target_name,
                    DELIVERY.c.target_language,
                    LETTER.c.subscriber_id,
                    SUBSCRIBER.c.email,
                    LETTER.c.campaign,
                    LETTER.c.year,
                    LETTER.c.language,
                    LETTER.c.name,
                    LETTER.c.address,
                    LETTER.c.subject,
                    LETTER.c.text,
                )
                .join(LETTER, LETTER.c.id == DELIVERY.c.letter_id)
                .join(SUBSCRIBER, SUBSCRIBER.c.id == LETTER.c.subscriber_id)
                .where(DELIVERY.c.id.in_(chosen))
                .order_by(DELIVERY.c.id)
            ).all()
        return [Claimed._make(row) for row in rows]

    def finish_delivery(
        self, delivery_id: int, state: str, message_id: str | None, reason: str | None, now: datetime
    ) -> None:
        """What the transport answered for a claimed delivery."""
        with self._write() as conn:
            conn.execute(
                update(DELIVERY)
                .where(and_(DELIVERY.c.id == delivery_id, DELIVERY.c.state == SENDING))
                .values(state=state, message_id=message_id, reason=reason, sent_at=now if state == SENT else None)
            )

    def abandon_stale(self, before: datetime) -> int:
        """Deliveries claimed before ``before`` and never answered (the process died
        while sending): failed, not sent again, since they may have gone out."""
        with self._write() as conn:
            done = conn.execute(
                update(DELIVERY)
                .where(and_(DELIVERY.c.state == SENDING, DELIVERY.c.claimed_at < before))
                .values(state=FAILED, reason="interrupted while sending; it may have gone out, so it is not retried")
            )
            return int(done.rowcount)

    def letters_count(self, campaign: str, year: int) -> int:
        """Letters subscribers sent for this campaign year (queued ones included)."""
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(and_(LETTER.c.campaign == campaign, LETTER.c.year == year))
                ).scalar_one()
            )

    def letter_delivery_counts(self, campaign: str, year: int) -> dict[str, int]:
        """Deliveries to targets of this campaign year, by state."""
        with self._read() as conn:
            rows = conn.execute(
                select(DELIVERY.c.state, func.count())
                .join(LETTER, LETTER.c.id == DELIVERY.c.letter_id)
                .where(and_(LETTER.c.campaign == campaign, LETTER.c.year == year, DELIVERY.c.kind == TARGET))
                .group_by(DELIVERY.c.state)
            ).all()
        return {str(state): int(n) for state, n in rows}

    def subscriber_regions(self) -> dict[str, int]:
        """Active subscribers by region (None as ""): which regions need targets."""
        with self._read() as conn:
            rows = conn.execute(
                select(SUBSCRIBER.c.region, func.count())
                .where(SUBSCRIBER.c.status == "active")
                .group_by(SUBSCRIBER.c.region)
            ).all()
        return {str(region or ""): int(n) for region, n in rows}

    def forget_letters(self, subscriber_id: int) -> int:
        """Erase the personal data of a subscriber's letters (GDPR Art. 17): the rows
        stay, so the counts stay true, without name, address, text or copy address."""
        with self._write() as conn:
            ids = select(LETTER.c.id).where(LETTER.c.subscriber_id == subscriber_id).scalar_subquery()
            conn.execute(
                update(DELIVERY)
                .where(and_(DELIVERY.c.letter_id.in_(ids), DELIVERY.c.kind == COPY))
                .values(target_name="", target_email="")
            )
            done = conn.execute(
                update(LETTER)
                .where(LETTER.c.subscriber_id == subscriber_id)
                .values(name="", address="", text="", subject="")
            )
            return int(done.rowcount)

    def set_regions(self, regions: dict[str, str], now: datetime) -> int:
        """Set the region of the subscribers named by lower-cased address (an import's
        ``region`` column); forgotten ones are left alone."""
        with self._write() as conn:
            done = 0
            for key, region in regions.items():
                done += conn.execute(
                    update(SUBSCRIBER)
                    .where(and_(SUBSCRIBER.c.email_key == key, SUBSCRIBER.c.status != "forgotten"))
                    .values(region=region, updated_at=now)
                ).rowcount
            return done

    def letters_of(self, subscriber_id: int) -> list[dict[str, Any]]:
        """Every letter a subscriber sent, with its deliveries (a subject access request)."""
        with self._read() as conn:
            letters = [
                dict(r._mapping)
                for r in conn.execute(
                    select(LETTER).where(LETTER.c.subscriber_id == subscriber_id).order_by(LETTER.c.id)
                )
            ]
            for letter in letters:
                letter["deliveries"] = [
                    {k: v for k, v in d._mapping.items() if k in ("target_email", "target_name", "state", "sent_at")}
                    for d in conn.execute(
                        select(DELIVERY).where(DELIVERY.c.letter_id == letter["id"]).order_by(DELIVERY.c.id)
                    )
                ]
        return letters
