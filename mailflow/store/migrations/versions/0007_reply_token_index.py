"""index on complaints.reply_token

Every staff reply and citizen follow-up is matched to its complaint first by
the token in the complaint's reply address (Intake._find_complaint); without
an index that was a scan of every complaint (seconds at 1,000,000).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_complaints_reply_token", "complaints", ["reply_token"])


def downgrade() -> None:
    op.drop_index("ix_complaints_reply_token", table_name="complaints")
