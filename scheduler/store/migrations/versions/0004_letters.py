"""The statement for the record: the letters subscribers send, and their deliveries.

* ``letter``: one per (campaign, year, subscriber), with the name, postal address and
  text it was signed with.
* ``letter_delivery``: one row per target (and the subscriber's copy), a queue in id
  order; the index on (target_key, claimed_at) counts a target's letters in the last
  hour, the one on (state, id) finds the queue's head.

Two new tables and nothing else: rows made by earlier releases are not touched.

Revision ID: 0004
Revises: 0003
Create Date: 2027-03-01 09:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sa.String()
    when = sa.DateTime(timezone=True)
    op.create_table(
        "letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign", text, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("language", text, nullable=False),
        sa.Column("region", text, nullable=False),
        sa.Column("name", text, nullable=False),
        sa.Column("address", text, nullable=False),
        sa.Column("subject", text, nullable=False),
        sa.Column("text", text, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"], name="fk_letter_subscriber_id_subscriber"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign", "year", "subscriber_id", name="uq_letter"),
    )
    op.create_table(
        "letter_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("kind", text, nullable=False),
        sa.Column("target_key", text, nullable=False),
        sa.Column("target_email", text, nullable=False),
        sa.Column("target_name", text, nullable=False),
        sa.Column("target_title", text, nullable=False),
        sa.Column("target_language", text, nullable=False),
        sa.Column("state", text, nullable=False),
        sa.Column("queued_at", when, nullable=False),
        sa.Column("claimed_at", when, nullable=True),
        sa.Column("sent_at", when, nullable=True),
        sa.Column("message_id", text, nullable=True),
        sa.Column("reason", text, nullable=True),
        sa.ForeignKeyConstraint(["letter_id"], ["letter.id"], name="fk_letter_delivery_letter_id_letter"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("letter_id", "target_key", name="uq_letter_delivery"),
    )
    op.create_index("ix_letter_delivery_state", "letter_delivery", ["state", "id"])
    op.create_index("ix_letter_delivery_target", "letter_delivery", ["target_key", "claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_letter_delivery_target", table_name="letter_delivery")
    op.drop_index("ix_letter_delivery_state", table_name="letter_delivery")
    op.drop_table("letter_delivery")
    op.drop_table("letter")
