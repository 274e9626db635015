"""step visits (deadlines, reminders, report) and report runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

import mailflow.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

T = mailflow.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "step_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("section", sa.String(length=64), nullable=False),
        sa.Column("started_at", T, nullable=False),
        sa.Column("standard_minutes", sa.Integer(), nullable=True),
        sa.Column("remind_at", T, nullable=True),
        sa.Column("due_at", T, nullable=True),
        sa.Column("ended_at", T, nullable=True),
        sa.Column("working_minutes", sa.Integer(), nullable=True),
        sa.Column("within_standard", sa.Boolean(), nullable=True),
        sa.Column("reminded_at", T, nullable=True),
        sa.Column("breached_at", T, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_step_visits_complaint_id", "step_visits", ["complaint_id"])
    op.create_index("ix_step_visits_open_remind", "step_visits", ["ended_at", "reminded_at", "remind_at"])
    op.create_index("ix_step_visits_open_due", "step_visits", ["ended_at", "breached_at", "due_at"])
    op.create_index("ix_step_visits_started_at", "step_visits", ["started_at"])
    op.create_table(
        "report_runs",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("sent_at", T, nullable=False),
        sa.PrimaryKeyConstraint("month"),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
    op.drop_index("ix_step_visits_started_at", table_name="step_visits")
    op.drop_index("ix_step_visits_open_due", table_name="step_visits")
    op.drop_index("ix_step_visits_open_remind", table_name="step_visits")
    op.drop_index("ix_step_visits_complaint_id", table_name="step_visits")
    op.drop_table("step_visits")
