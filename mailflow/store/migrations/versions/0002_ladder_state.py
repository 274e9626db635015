"""ladder state: the answer draft, its approval, and who answered

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

import mailflow.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("draft_role", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("draft_step", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approved", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("answered_step", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("answered_role", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("answered_at", mailflow.store.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        for name in ("answered_at", "answered_role", "answered_step", "approved", "draft_step", "draft_role", "draft"):
            batch_op.drop_column(name)
