"""The schema of release 0.1.0, which made it with SQLModel.metadata.create_all.

A database made by 0.1.0 has exactly these tables and is stamped at this revision by
``anniversary db upgrade``; a new one is created by it. Keep the two the same: never
edit this file, add a migration.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 09:55:11.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateIndex, CreateTable

# Only sqlalchemy and alembic here: a migration must keep working after the
# application's code (scheduler.*) has moved on.

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema_0_1_0() -> list[sa.Table | sa.Index]:
    """The tables and indexes in the order 0.1.0 created them.

    They live on a MetaData of their own, with SQLAlchemy's default naming only, as
    0.1.0's had: op.create_table would apply the application's naming convention and
    name the ledger's foreign key, which 0.1.0 left unnamed (PostgreSQL called it
    ledger_subscriber_id_fkey), so a database created now would differ from one
    made then, and a later migration could not drop the key by one name on both."""
    metadata = sa.MetaData()
    subscriber = sa.Table(
        "subscriber",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("email_key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    run = sa.Table(
        "run",
        metadata,
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.String(), nullable=False),
    )
    heads_up = sa.Table(
        "heads_up",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("recipients", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign", "year", name="uq_heads_up"),
    )
    ledger = sa.Table(
        "ledger",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("transport", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign", "year", "stage", "subscriber_id", name="uq_ledger_entry"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
    )
    return [
        subscriber,
        sa.Index("ix_subscriber_email_key", subscriber.c.email_key, unique=True),
        sa.Index("ix_subscriber_status_zone", subscriber.c.status, subscriber.c.timezone, subscriber.c.id),
        run,
        heads_up,
        ledger,
    ]


def upgrade() -> None:
    # op.execute, not metadata.create_all(op.get_bind()): it also works offline (--sql).
    for item in _schema_0_1_0():
        op.execute(CreateTable(item) if isinstance(item, sa.Table) else CreateIndex(item))


def downgrade() -> None:
    # Dropping a table drops its indexes with it.
    for table in ("ledger", "heads_up", "run", "subscriber"):
        op.drop_table(table)
