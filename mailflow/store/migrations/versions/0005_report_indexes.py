"""indexes for the monthly report

The report aggregates one month in SQL (GROUP BY) and must stay fast at a
million complaints, so each of its queries reads one index range:

- ix_complaints_month_counts (created_at, category, channel, status): the
  month's complaints counted by category, channel and status from the index
  alone; it replaces ix_complaints_created_at (its first column);
- ix_complaints_status_created_at (status, created_at): the open complaints
  received before a moment; it replaces ix_complaints_status;
- ix_complaints_closings (closed_at, created_at, status): the complaints
  closed in the month, and those received before its end and closed after
  it (still open at its end), from the index alone;
- ix_step_visits_month (started_at, step, working_minutes, within_standard,
  section): the month's step durations and compliance from the index alone;
  it replaces ix_step_visits_started_at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_complaints_month_counts", "complaints", ["created_at", "category", "channel", "status"])
    op.drop_index("ix_complaints_created_at", table_name="complaints")
    op.create_index("ix_complaints_status_created_at", "complaints", ["status", "created_at"])
    op.drop_index("ix_complaints_status", table_name="complaints")
    op.create_index("ix_complaints_closings", "complaints", ["closed_at", "created_at", "status"])
    op.create_index("ix_step_visits_month", "step_visits",
                    ["started_at", "step", "working_minutes", "within_standard", "section"])
    op.drop_index("ix_step_visits_started_at", table_name="step_visits")


def downgrade() -> None:
    op.create_index("ix_step_visits_started_at", "step_visits", ["started_at"])
    op.drop_index("ix_step_visits_month", table_name="step_visits")
    op.drop_index("ix_complaints_closings", table_name="complaints")
    op.create_index("ix_complaints_status", "complaints", ["status"])
    op.drop_index("ix_complaints_status_created_at", table_name="complaints")
    op.create_index("ix_complaints_created_at", "complaints", ["created_at"])
    op.drop_index("ix_complaints_month_counts", table_name="complaints")
