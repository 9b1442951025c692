"""Every SQL statement the package runs. SQLite is the default; PostgreSQL works too.

Claims are portable: an entry is claimed by ``INSERT ... ON CONFLICT DO NOTHING`` on the
ledger's unique (campaign, year, stage, subscriber) key, so two senders on one database
can never both own an entry. On SQLite each write transaction starts with
``BEGIN IMMEDIATE`` (issue 4, section 3) so concurrent claimers queue instead of
failing half-way with "database is locked".
"""

from __future__ import annotations

from scheduler.store.base import Claimed, Result, StoreError, SubscriberRow, make_engine
from scheduler.store.ledger import LedgerQueries
from scheduler.store.runs import RunQueries
from scheduler.store.subscribers import SubscriberQueries

__all__ = ["Claimed", "Result", "Store", "StoreError", "SubscriberRow", "make_engine"]


class Store(SubscriberQueries, LedgerQueries, RunQueries):
    """One database: SQLite by default, PostgreSQL through the same statements."""
