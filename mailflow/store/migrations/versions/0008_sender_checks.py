"""what the desk knows of a complaint's sender: the Reply-To it asked for
(kept for staff, never used for automatic mail) and whether the office's
mail server verified the From: domain

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite adds and drops a column in
# place since 3.35): a batch "copy and move" on SQLite would rebuild the table
# from its reflection, which cannot see the expression index
# ix_complaints_number_upper, and lose it.


def upgrade() -> None:
    op.add_column("complaints", sa.Column("reply_to", sa.String(length=320), nullable=True))
    op.add_column("complaints", sa.Column("sender_verified", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("complaints", "sender_verified")
    op.drop_column("complaints", "reply_to")
