"""The subscriber lifecycle: consent records, suppression, provider events, form nonces.

* ``subscriber`` gains the consent record (sign-up IP, user agent, page, wording version,
  confirmation time and IP), the reason for its status, and a region (ISO 3166-2).
* ``ledger`` gains what the provider said after accepting a message (delivered,
  deferred, ...) and when.
* ``suppression``: keyed hashes of addresses never to be mailed again.
* ``webhook_event``: provider event ids already applied.
* ``form_nonce``: form tokens already used.

Every new column is nullable, so rows made by earlier releases stay valid as they are;
SQLite adds such columns in place.

Revision ID: 0003
Revises: 0002
Create Date: 2027-02-01 09:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def upgrade() -> None:
    text = sa.String()
    for name in ("consent_ip", "consent_user_agent", "consent_page", "consent_wording"):
        op.add_column("subscriber", sa.Column(name, text, nullable=True))
    op.add_column("subscriber", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("subscriber", sa.Column("confirmed_ip", text, nullable=True))
    op.add_column("subscriber", sa.Column("status_reason", text, nullable=True))
    op.add_column("subscriber", sa.Column("region", text, nullable=True))
    op.add_column("ledger", sa.Column("delivery", text, nullable=True))
    op.add_column("ledger", sa.Column("delivery_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "suppression",
        sa.Column("email_hash", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email_hash"),
    )
    op.create_table(
        "webhook_event",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_webhook_event_received_at", "webhook_event", ["received_at"])
    op.create_table(
        "form_nonce",
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_form_nonce_used_at", "form_nonce", ["used_at"])


def downgrade() -> None:
    op.drop_index("ix_form_nonce_used_at", table_name="form_nonce")
    op.drop_table("form_nonce")
    op.drop_index("ix_webhook_event_received_at", table_name="webhook_event")
    op.drop_table("webhook_event")
    op.drop_table("suppression")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("delivery_at")
        batch.drop_column("delivery")
    with op.batch_alter_table("subscriber") as batch:
        for name in (
            "region", "status_reason", "confirmed_ip", "confirmed_at",
            "consent_wording", "consent_page", "consent_user_agent", "consent_ip",
        ):
            batch.drop_column(name)
