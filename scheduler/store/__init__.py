"""Every SQL statement the package runs. SQLite is the default; PostgreSQL works too.

Claims are portable: an entry is claimed by ``INSERT ... ON CONFLICT DO NOTHING`` on the
ledger's unique (campaign, year, stage, subscriber) key, so two senders on one database
can never both own an entry. On SQLite each write transaction starts with
``BEGIN IMMEDIATE`` so concurrent claimers queue instead of
failing half-way with "database is locked".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.store.base import Candidate, StoreError, SubscriberRow, make_engine, refuse_empty_file
from scheduler.store.ledger import LedgerQueries
from scheduler.store.letters import LetterQueries
from scheduler.store.lifecycle import LifecycleQueries, SignupSeen
from scheduler.store.runs import RunQueries
from scheduler.store.subscribers import SubscriberQueries

if TYPE_CHECKING:
    from scheduler.store.migrate import UpgradeReport

__all__ = ["Candidate", "SignupSeen", "Store", "StoreError", "SubscriberRow", "make_engine", "upgrade_database"]


class Store(SubscriberQueries, LedgerQueries, RunQueries, LifecycleQueries, LetterQueries):
    """One database: SQLite by default, PostgreSQL through the same statements."""


def upgrade_database(url: str) -> UpgradeReport:
    """Bring the database at ``url`` to this release's schema (``anniversary db upgrade``;
    the daemon does it on start): a SQLite file is backed up first."""
    from scheduler.store import migrate

    refuse_empty_file(url)
    engine = make_engine(url)
    try:
        return migrate.upgrade(engine)
    finally:
        engine.dispose()
