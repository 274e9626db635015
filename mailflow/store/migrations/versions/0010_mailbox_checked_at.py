"""mailbox_state.checked_at and checked_by: when the office's mailbox was
last looked at successfully (every intake pass) and by which process
(host:pid of the daemon or worker), for `mailflow workers`

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from mailflow.store.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mailbox_state", sa.Column("checked_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("mailbox_state", sa.Column("checked_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("mailbox_state", "checked_by")
    op.drop_column("mailbox_state", "checked_at")
