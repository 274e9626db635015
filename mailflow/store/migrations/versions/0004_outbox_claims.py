"""outbox claims (which daemon process is sending a row, since when) and an
index for the per-address limit on automatic answers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import mailflow.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

T = mailflow.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("claimed_at", T, nullable=True))
    op.create_index("ix_outbox_recipients_created_at", "outbox", ["recipients", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_recipients_created_at", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
