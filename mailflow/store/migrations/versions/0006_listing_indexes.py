"""indexes for the listings: show by number, early hops by message, the open queue

`mailflow show NUMBER` looked the number up as upper(number) (a full scan of
complaints) and the hops of the complaint's mail recorded before it had a
number through `complaint_id IS NULL` (every such hop in the log); `mailflow
queue` walked created_at across all complaints, closed ones included, to find
the open ones. At 1,000,000 complaints these took seconds; see
docs/PERFORMANCE.md.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Must stay identical to mailflow.store.models._OPEN_SQL (SQLite matches the text).
OPEN_SQL = "status IN ('registered', 'in_progress', 'waiting_citizen', 'awaiting_approval')"


def upgrade() -> None:
    op.create_index("ix_complaints_number_upper", "complaints", [sa.text("upper(number)")])
    op.create_index("ix_complaints_open_created_at", "complaints", ["created_at", "id"],
                    sqlite_where=sa.text(OPEN_SQL), postgresql_where=sa.text(OPEN_SQL))
    op.create_index("ix_hops_message_pk", "hops", ["message_pk"])


def downgrade() -> None:
    op.drop_index("ix_hops_message_pk", table_name="hops")
    op.drop_index("ix_complaints_open_created_at", table_name="complaints")
    op.drop_index("ix_complaints_number_upper", table_name="complaints")
