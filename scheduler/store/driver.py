"""Statements handed straight to the database driver: the ledger's hot path and the
import's ``executemany``, without SQLAlchemy compiling each (BENCHMARKS.md)."""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from scheduler.core.outcomes import Result
from scheduler.store.base import LEDGER, Candidate


def _id_in(table: Any, ids: Iterable[int]) -> str:
    """``table.id IN (1,2,3)``, the integers written into the statement."""
    return f"{table.name}.id IN ({id_list(ids)})"


def hash_joins(conn: Any) -> None:
    """On PostgreSQL, for this transaction: no nested-loop joins. The counts that use
    it compare every eligible subscriber with a stage's entries, which a hash join does
    in one pass of each; with statistics older than the ledger's growth (a send fills
    it in minutes) the planner took a nested loop that rescans the entries for each
    subscriber, minutes for 50,000 (BENCHMARKS.md, PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_nestloop = off")


def id_list(ids: Iterable[int]) -> str:
    """Integers for an ``IN (...)`` list, written into the statement. SQLAlchemy's
    expanding IN costs ~9 us per bound id, more than SQLite's whole insert or update of
    the row (BENCHMARKS.md, SendGrid delivery); ``int()`` keeps it to integers only."""
    return ",".join(str(int(i)) for i in ids)


def record_on(conn: Any, results: Sequence[Result], stamp: Any) -> None:
    """Write answers on ``conn``, ``stamp`` from ledger.LedgerQueries._stamp. Entries sharing
    an answer (a SendGrid request has one X-Message-Id) are updated with one
    ``WHERE id IN``."""
    sql = "UPDATE ledger SET state = ?, message_id = ?, reason = ?, updated_at = ? WHERE "
    singles: list[tuple[Any, ...]] = []
    # A request's answers are adjacent and alike: grouped as they come, in C.
    for (state, mid, why), alike in itertools.groupby(results, _ANSWER):
        ids = list(map(_ENTRY, alike))
        if len(ids) == 1:
            singles.append((state.value, mid, why, stamp, ids[0]))
            continue
        for start in range(0, len(ids), 1000):
            driver_sql(conn, sql + _id_in(LEDGER, ids[start : start + 1000]), (state.value, mid, why, stamp))
    if singles:  # one message per answer (outbox, SMTP): one statement, many rows
        driver_sql(conn, sql + "id = ?", singles)


#: a Candidate from a row without the NamedTuple constructor's Python frame
#: (BENCHMARKS.md, SendGrid delivery)
candidate_of = functools.partial(tuple.__new__, Candidate)
_ANSWER = operator.itemgetter(1, 2, 3)
_ENTRY = operator.itemgetter(0)


def driver_sql(conn: Any, sql: str, params: tuple[Any, ...] | list[tuple[Any, ...]]) -> Any:
    """Run ``sql``, written with ``?`` placeholders, on the DBAPI cursor of ``conn``'s
    connection, inside its transaction: no statement compiled and no execution context
    per call (the hot statements carry their ids as literals, so a compiled form would
    never be reused; BENCHMARKS.md). A list of tuples runs as executemany. psycopg
    takes ``%s`` where sqlite3 takes ``?``; these statements hold no other ``?`` or ``%``."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.driver_connection.cursor()
    if isinstance(params, list):
        cursor.executemany(sql, params)
    else:
        cursor.execute(sql, params)
    return cursor
