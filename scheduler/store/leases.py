"""Which sender reads which id window of a stage, on PostgreSQL: several daemons
sharing one database split a send by window instead of all reading, rendering and
racing to claim the same subscribers (BENCHMARKS.md, PostgreSQL).

A window is leased with a session-level advisory lock (PostgreSQL manual, "Advisory
Locks"), taken with ``pg_try_advisory_lock``, which never waits: a window another
sender holds is passed over. The lease only steers the work; the claims still decide
who sends what (``ON CONFLICT DO NOTHING`` and ``SKIP LOCKED`` in
:meth:`~scheduler.store.ledger.LedgerQueries.claim_ids`), so a lease lost or never
taken costs some wasted reading, never a duplicate.

A sender holds the leases of the last :data:`KEEP` windows it read (a window's
subscribers are claimed within a few windows of being read: the delivery engine
flushes its groups once four windows wait), gives them all back when a pass over the
stage starts again or reaches the last window, and loses them when its process ends,
killed or not, because the database ends the session. Subscribers of a window whose
sender died before claiming them are sent by the next pass (the daemon's next wake)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import deque
from typing import Any

from sqlalchemy import Engine

#: windows a sender keeps leased at once: the one being read ahead, the one being
#: claimed, and the four whose groups may still be waiting to fill
KEEP = 6


def lease_key(*parts: object) -> int:
    """A signed 64-bit advisory lock key for a window, the same in every process."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class WindowLeases:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Any = None
        self._held: dict[object, deque[int]] = {}
        self._lock = threading.Lock()

    def take(self, stage: object, after: int, upto: int, *, last: bool) -> bool:
        """Lease the window ``after < id <= upto`` of ``stage`` (any key naming the
        campaign, year, stage and zones); False when another sender holds it. ``after``
        0 starts a new pass, so this sender's earlier leases of the stage go back;
        ``last`` (the window reaches the highest id) gives them all back, this one too."""
        with self._lock:
            try:
                conn = self._connection()
                held = self._held.setdefault(stage, deque())
                if after == 0:
                    self._release(conn, held, keep=0)
                key = lease_key(stage, after, upto)
                if not conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar():
                    return False
                held.append(key)
                self._release(conn, held, keep=0 if last else KEEP)
                return True
            except Exception:  # a lease only steers; without one the claims still decide
                self.close()
                return True

    def _connection(self) -> Any:
        if self._conn is None:
            # Its own connection, outside every transaction: a session lock outlives
            # the transactions of the pooled connections that read and claim.
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    @staticmethod
    def _release(conn: Any, held: deque[int], *, keep: int) -> None:
        while len(held) > keep:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (held.popleft(),))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            # Already gone with the server? Its locks went with it.
            with contextlib.suppress(Exception):
                conn.close()
