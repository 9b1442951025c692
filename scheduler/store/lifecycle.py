"""The subscriber lifecycle's statements (README: The web app, Privacy): sign-up and
confirmation, opting out, preferences, suppression, forgetting, provider events and
used form tokens. Keyed hashes are made above the store and handed in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, exists, select, update

from scheduler.core.outcomes import OPTED_OUT, Status
from scheduler.store.base import FORM_NONCE, LEDGER, SUBSCRIBER, SUPPRESSION, WEBHOOK_EVENT, StoreBase

#: what a sign-up records (GDPR Art. 7(1): consent that can be demonstrated)
CONSENT_FIELDS = ("consent_ip", "consent_user_agent", "consent_page", "consent_wording")


class SignupSeen(NamedTuple):
    subscriber_id: int
    #: the status before this sign-up; None when the address was new
    was: Status | None


class LifecycleQueries(StoreBase):
    def ping(self) -> None:
        """One round trip: the web app's health check."""
        with self._read() as conn:
            conn.execute(select(1)).scalar()

    def subscriber(self, subscriber_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(SUBSCRIBER).where(SUBSCRIBER.c.id == subscriber_id)).first()
            return dict(row._mapping) if row else None

    def signup(self, person: dict[str, str], consent: dict[str, str | None], now: datetime) -> SignupSeen:
        """Record a sign-up. A new address becomes ``pending`` with the consent record;
        a pending one gets its details and consent record renewed; one that opted out
        keeps its status (only a confirmation lifts it) but records the new request;
        an active one is left exactly as it is."""
        key = person["email"].lower()
        fields = {k: consent.get(k) for k in CONSENT_FIELDS}
        with self._write() as conn:
            row = conn.execute(
                select(SUBSCRIBER.c.id, SUBSCRIBER.c.status).where(SUBSCRIBER.c.email_key == key)
            ).first()
            if row is None:
                values = {
                    **person,
                    "email_key": key,
                    "status": Status.PENDING.value,
                    "consent_at": now,
                    "consent_source": "web sign-up",
                    "created_at": now,
                    "updated_at": now,
                    **fields,
                }
                new_id = conn.execute(SUBSCRIBER.insert().values(**values).returning(SUBSCRIBER.c.id)).scalar_one()
                return SignupSeen(int(new_id), None)
            was = Status(row.status)
            if was is Status.PENDING:
                conn.execute(
                    update(SUBSCRIBER)
                    .where(SUBSCRIBER.c.id == row.id)
                    .values(
                        name=person["name"],
                        language=person["language"],
                        timezone=person["timezone"],
                        consent_at=now,
                        updated_at=now,
                        **fields,
                    )
                )
            elif was in OPTED_OUT:
                conn.execute(
                    update(SUBSCRIBER).where(SUBSCRIBER.c.id == row.id).values(consent_at=now, updated_at=now, **fields)
                )
            return SignupSeen(int(row.id), was)

    def confirm(self, subscriber_id: int, ip: str | None, hashes: Sequence[str], now: datetime) -> Status | None:
        """A followed confirmation link: a pending or opted-out subscriber becomes active,
        and the address leaves the suppression list. Returns the status before, or
        None when there is no such subscriber (removed or forgotten since)."""
        with self._write() as conn:
            row = conn.execute(select(SUBSCRIBER.c.status).where(SUBSCRIBER.c.id == subscriber_id)).first()
            if row is None or row.status == Status.FORGOTTEN.value:
                return None
            was = Status(row.status)
            if was is not Status.ACTIVE:
                conn.execute(
                    update(SUBSCRIBER)
                    .where(SUBSCRIBER.c.id == subscriber_id)
                    .values(
                        status=Status.ACTIVE.value,
                        status_reason="confirmed",
                        confirmed_at=now,
                        confirmed_ip=ip,
                        updated_at=now,
                    )
                )
                if hashes:
                    conn.execute(delete(SUPPRESSION).where(SUPPRESSION.c.email_hash.in_(list(hashes))))
            return was

    def opt_out(self, subscriber_id: int, status: Status, reason: str, now: datetime) -> Status | None:
        """Mark a subscriber as opted out (unsubscribed, bounced, complained). Effective
        for the very next claim: sends select active subscribers only. Returns the
        status before, or None when there is no such subscriber."""
        with self._write() as conn:
            row = conn.execute(select(SUBSCRIBER.c.status).where(SUBSCRIBER.c.id == subscriber_id)).first()
            if row is None or row.status == Status.FORGOTTEN.value:
                return None
            was = Status(row.status)
            # A bounce or complaint is worth more than an unsubscribe: it is never
            # overwritten by one, so the reason an address is off the list stays true.
            if (was is Status.UNSUBSCRIBED and status is not Status.UNSUBSCRIBED) or was in (
                Status.ACTIVE,
                Status.PENDING,
            ):
                conn.execute(
                    update(SUBSCRIBER)
                    .where(SUBSCRIBER.c.id == subscriber_id)
                    .values(status=status.value, status_reason=reason, updated_at=now)
                )
            return was

    def set_preferences(self, subscriber_id: int, values: dict[str, str | None], now: datetime) -> bool:
        allowed = {"language", "timezone", "region", "name"}
        if not set(values) <= allowed:
            raise ValueError(f"preferences are {sorted(allowed)}, not {sorted(set(values) - allowed)}")
        with self._write() as conn:
            done = conn.execute(
                update(SUBSCRIBER)
                .where(and_(SUBSCRIBER.c.id == subscriber_id, SUBSCRIBER.c.status != Status.FORGOTTEN.value))
                .values(**values, updated_at=now)
            )
            return bool(done.rowcount)

    def suppress_address(
        self, email_key: str, status: Status, reason: str, hashes: Sequence[str], now: datetime
    ) -> bool:
        """Keep an address from being mailed: a subscriber's status changes; an address
        not on the list goes onto the suppression list as its keyed hash (``hashes[0]``
        is the current key's), so a later import cannot add it. True when it was a
        subscriber."""
        with self._write() as conn:
            row = conn.execute(select(SUBSCRIBER.c.id).where(SUBSCRIBER.c.email_key == email_key)).first()
            if row is None:
                self._add_hash(conn, hashes[0], reason, "suppress", now)
                return False
        self.opt_out(int(row.id), status, reason, now)
        return True

    def _add_hash(self, conn: Any, email_hash: str, reason: str, source: str, now: datetime) -> None:
        stmt = self._insert(SUPPRESSION).values(email_hash=email_hash, reason=reason, source=source, created_at=now)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["email_hash"]))

    def add_hashes(self, rows: Sequence[tuple[str, str]], source: str, now: datetime) -> None:
        """Put many (hash, reason) pairs on the suppression list in one transaction
        (a provider's lists, synced); those already there stay as they are."""
        if not rows:
            return
        stmt = self._insert(SUPPRESSION).on_conflict_do_nothing(index_elements=["email_hash"])
        values = [{"email_hash": h, "reason": r, "source": source, "created_at": now} for h, r in rows]
        with self._write() as conn:
            for start in range(0, len(values), 5000):
                conn.execute(stmt, values[start : start + 5000])

    def suppressed(self, hashes: Iterable[str]) -> set[str]:
        """Which of these hashes are on the suppression list."""
        wanted = list(hashes)
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(
                    conn.execute(select(SUPPRESSION.c.email_hash).where(SUPPRESSION.c.email_hash.in_(chunk))).scalars()
                )
        return found

    def suppression_hashes(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(select(SUPPRESSION.c.email_hash)).scalars())

    def has_suppressions(self) -> bool:
        with self._read() as conn:
            return conn.execute(select(SUPPRESSION.c.email_hash).limit(1)).first() is not None

    def person(self, email_key: str) -> dict[str, Any] | None:
        """Everything stored about one address: the profile with its consent record, and
        its ledger history (README: Privacy)."""
        with self._read() as conn:
            row = conn.execute(select(SUBSCRIBER).where(SUBSCRIBER.c.email_key == email_key)).first()
            if row is None:
                return None
            profile = dict(row._mapping)
            ledger = [
                dict(r._mapping)
                for r in conn.execute(
                    select(
                        LEDGER.c.campaign,
                        LEDGER.c.year,
                        LEDGER.c.stage,
                        LEDGER.c.state,
                        LEDGER.c.message_id,
                        LEDGER.c.reason,
                        LEDGER.c.transport,
                        LEDGER.c.updated_at,
                        LEDGER.c.delivery,
                        LEDGER.c.delivery_at,
                    )
                    .where(LEDGER.c.subscriber_id == profile["id"])
                    .order_by(LEDGER.c.year, LEDGER.c.campaign, LEDGER.c.stage)
                )
            ]
        return {"profile": profile, "ledger": ledger}

    def forget(self, email_key: str, email_hash: str, now: datetime) -> bool:
        """Erase one person's personal data (GDPR Art. 17). The row stays, anonymous,
        because the ledger's entries point at it and its counts must stay true; the
        ledger's free-text reasons go (a bounce message can quote the address). The
        keyed hash goes onto the suppression list."""
        with self._write() as conn:
            sid = conn.execute(select(SUBSCRIBER.c.id).where(SUBSCRIBER.c.email_key == email_key)).scalar()
            if sid is None:
                return False
            conn.execute(
                update(SUBSCRIBER)
                .where(SUBSCRIBER.c.id == sid)
                .values(
                    email=f"forgotten-{sid}@invalid",
                    email_key=f"forgotten-{sid}@invalid",
                    name="",
                    status=Status.FORGOTTEN.value,
                    status_reason="forgotten on request",
                    region=None,
                    consent_source="forgotten",
                    consent_ip=None,
                    consent_user_agent=None,
                    consent_page=None,
                    consent_wording=None,
                    confirmed_ip=None,
                    updated_at=now,
                )
            )
            conn.execute(update(LEDGER).where(LEDGER.c.subscriber_id == sid).values(reason=None))
            self._add_hash(conn, email_hash, "forgotten", "forget", now)
            return True

    def purge_pending(self, before: datetime) -> int:
        """Delete sign-ups never confirmed since before ``before`` (and never sent to)."""
        with self._write() as conn:
            done = conn.execute(
                delete(SUBSCRIBER).where(
                    SUBSCRIBER.c.status == Status.PENDING.value,
                    SUBSCRIBER.c.confirmed_at.is_(None),
                    SUBSCRIBER.c.consent_at < before,
                    ~exists().where(LEDGER.c.subscriber_id == SUBSCRIBER.c.id),
                )
            )
            return int(done.rowcount or 0)

    # -- used form tokens and provider events ---------------------------------------

    def use_nonce(self, nonce: str, now: datetime, forget_before: datetime) -> bool:
        """True the first time a form token's nonce is used; False for a replay."""
        with self._write() as conn:
            conn.execute(delete(FORM_NONCE).where(FORM_NONCE.c.used_at < forget_before))
            stmt = self._insert(FORM_NONCE).values(nonce=nonce, used_at=now)
            done = conn.execute(stmt.on_conflict_do_nothing(index_elements=["nonce"]))
            return bool(done.rowcount)

    def new_events(self, event_ids: Sequence[str], now: datetime, forget_before: datetime) -> set[str]:
        """Record provider event ids; returns those not seen before (a retried or
        repeated event is applied once)."""
        fresh: set[str] = set()
        with self._write() as conn:
            conn.execute(delete(WEBHOOK_EVENT).where(WEBHOOK_EVENT.c.received_at < forget_before))
            for event_id in dict.fromkeys(event_ids):
                stmt = self._insert(WEBHOOK_EVENT).values(event_id=event_id, received_at=now)
                if conn.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"])).rowcount:
                    fresh.add(event_id)
        return fresh

    def known_events(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these provider event ids were applied before."""
        wanted = list(dict.fromkeys(event_ids))
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(
                    conn.execute(select(WEBHOOK_EVENT.c.event_id).where(WEBHOOK_EVENT.c.event_id.in_(chunk))).scalars()
                )
        return found

    def set_delivery(
        self, campaign: str, year: int, stage: str, subscriber_id: int, delivery: str, at: datetime
    ) -> bool:
        """What the provider said of a message it accepted, on its ledger entry; an older
        event never overwrites a newer one."""
        with self._write() as conn:
            done = conn.execute(
                update(LEDGER)
                .where(
                    LEDGER.c.campaign == campaign,
                    LEDGER.c.year == year,
                    LEDGER.c.stage == stage,
                    LEDGER.c.subscriber_id == subscriber_id,
                    (LEDGER.c.delivery_at.is_(None)) | (LEDGER.c.delivery_at <= at),
                )
                .values(delivery=delivery, delivery_at=at)
            )
            return bool(done.rowcount)

    def subscriber_id_for(self, email_key: str) -> int | None:
        with self._read() as conn:
            sid = conn.execute(select(SUBSCRIBER.c.id).where(SUBSCRIBER.c.email_key == email_key)).scalar()
            return None if sid is None else int(sid)
