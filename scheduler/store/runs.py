"""Runs (for `status`) and the organizers' heads-up (README: Operations)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    insert,
    select,
    update,
)

from scheduler.store.base import HEADS_UP, RUN, StoreBase


class RunQueries(StoreBase):
    # -- runs --------------------------------------------------------------------

    def start_run(self, run_id: str, command: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(insert(RUN).values(id=run_id, command=command, started_at=now))

    def finish_run(self, run_id: str, summary: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(update(RUN).where(RUN.c.id == run_id).values(finished_at=now, summary=summary))

    def last_run(self) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(RUN).order_by(RUN.c.started_at.desc()).limit(1)).first()
            return dict(row._mapping) if row else None

    # -- the organizers' heads-up (README: Operations) ------------------------------

    def claim_heads_up(self, campaign: str, year: int, recipients: Sequence[str], now: datetime) -> bool:
        """Claim the one heads-up of a campaign year; False when another process already
        claimed or sent it. Same INSERT ... ON CONFLICT DO NOTHING as the ledger."""
        stmt = (
            self._insert(HEADS_UP)
            .values(campaign=campaign, year=year, state="claimed", recipients=", ".join(recipients), updated_at=now)
            .on_conflict_do_nothing(index_elements=["campaign", "year"])
        )
        with self._write() as conn:
            return bool(conn.execute(stmt).rowcount)

    def record_heads_up(self, campaign: str, year: int, message_id: str | None, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                update(HEADS_UP)
                .where(and_(HEADS_UP.c.campaign == campaign, HEADS_UP.c.year == year))
                .values(state="sent", message_id=message_id, updated_at=now)
            )

    def release_heads_up(self, campaign: str, year: int) -> None:
        """Give back a claim whose send failed, so the next wake tries again."""
        with self._write() as conn:
            conn.execute(
                delete(HEADS_UP).where(
                    and_(HEADS_UP.c.campaign == campaign, HEADS_UP.c.year == year, HEADS_UP.c.state == "claimed")
                )
            )

    def heads_up(self, campaign: str, year: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                select(HEADS_UP).where(and_(HEADS_UP.c.campaign == campaign, HEADS_UP.c.year == year))
            ).first()
            return dict(row._mapping) if row else None
