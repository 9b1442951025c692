"""Subscriber ids are never handed out twice.

An unsubscribe link names its subscriber by id (``v1.<id>.<mac>``, scheduler.content.links)
and stays valid as long as the signing key does. On SQLite a plain ``INTEGER PRIMARY KEY``
takes max(id) + 1: remove the newest subscriber and the next one added gets their id,
and with it every link mailed to the one who left. AUTOINCREMENT makes SQLite remember
the largest id it ever gave out (in sqlite_sequence) and never go below it
(https://sqlite.org/autoinc.html). SQLite cannot add it to a table: the table is
rebuilt (copy, drop, rename), which scheduler.store.migrate does with foreign keys off,
so the ledger rows that refer to subscribers stay as they are.

What this can and cannot protect, on SQLite:

* every id given out after this migration: never again;
* every id in the table now, and every id below the largest one: never again (a gap
  below the largest id was never reused either);
* an id above today's largest that was freed BEFORE this migration (the newest
  subscribers removed): 0.1.0 kept no record of it anywhere, so it cannot be told from
  an id never used, and the first subscribers added after the upgrade get it again.
  Likewise an id freed and taken again before the migration already names the new
  person; nothing can tell that apart either.

On PostgreSQL ``subscriber.id`` is a SERIAL column: its sequence never hands a number
out twice, so there is nothing to do, but the revision is recorded all the same.

Revision ID: 0002
Revises: 0001
Create Date: 2027-01-10 09:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# Only sqlalchemy and alembic here: a migration must keep working after the
# application's code (scheduler.*) has moved on.

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    # Reflected, so the columns and both indexes are rebuilt exactly as they are.
    with op.batch_alter_table("subscriber", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass
    # The copy's inserts already raised the counter to max(id); say so outright, so the
    # rule does not hang on how Alembic copies: the next id is above every id here now.
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'subscriber', 0"
        " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'subscriber')"
    )
    op.execute(
        "UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(id), 0) FROM subscriber))"
        " WHERE name = 'subscriber'"
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    with op.batch_alter_table("subscriber", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'subscriber'")
