"""complaints.closed_reason and complaints.merged_into_id: merging a duplicate
complaint into another (#gabung, `mailflow merge`) and closing a complaint the
citizen never answered (issue #15 points 3, 4). Both nullable: rows closed
before keep NULL (read as "answered" or "finished" as before).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaints", sa.Column("closed_reason", sa.String(length=16), nullable=True))
    op.add_column("complaints", sa.Column("merged_into_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("complaints", "merged_into_id")
    op.drop_column("complaints", "closed_reason")
