"""survey_responses: the satisfaction survey (SKM, Permenpan RB 14/2017) of
each complaint, asked once and rated once; read by the monthly report's IKM

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from mailflow.store.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("section", sa.String(length=64), nullable=False),
        sa.Column("asked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("rated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("overall", sa.Integer(), nullable=True),
        *(sa.Column(f"u{i}", sa.Integer(), nullable=True) for i in range(1, 10)),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("later_replies", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("complaint_id"),
    )
    op.create_index("ix_survey_responses_rated", "survey_responses", ["rated_at", "office"])
    op.create_index("ix_survey_responses_asked", "survey_responses", ["asked_at", "office"])


def downgrade() -> None:
    op.drop_index("ix_survey_responses_asked", table_name="survey_responses")
    op.drop_index("ix_survey_responses_rated", table_name="survey_responses")
    op.drop_table("survey_responses")
