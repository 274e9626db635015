"""privacy (issue 14): the access log (who revealed, exported or erased
whose data), when a complaint's or a mail's personal data was erased and how far the
retention pass has gone with each complaint, and a
the keyed NIK hash and room for sealed values (encryption at rest), and a
hop log that stays append-only yet lets a controlled step replace a hop's
actor and reason by a pseudonym (docs/PRIVACY.md)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from mailflow.store.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The facts of a hop, which no UPDATE may change; only actor and reason may be
# replaced, and only by a pseudonym ("pseudonym:...") and a reason marked
# "[pseudonymised]" (store/privacy.py is the one writer of those).
_FACTS = ("id", "office", "at", "complaint_id", "message_pk", "kind", "from_state", "to_state", "message_id")
# Columns that may hold a sealed value (store/sealing.py), with their former length.
_SEALED = {"complainant_name": 200, "reply_to": 320, "nik": 16, "kk": 16, "phone": 32}
_MESSAGE = "the hop log is append-only (only actor and reason may be pseudonymised)"


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office", sa.String(length=64), nullable=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("os_user", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("complaints", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    # Plain ALTER TABLE (see 0008: a batch copy would lose ix_complaints_number_upper).
    op.add_column("complaints", sa.Column("erased_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("complaints", sa.Column("retention_stage", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_complaints_retention", "complaints", ["retention_stage", "closed_at"])
    op.add_column("messages", sa.Column("erased_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("complaints", sa.Column("nik_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_complaints_nik_hash", "complaints", ["nik_hash"])
    if op.get_bind().dialect.name != "sqlite":  # a sealed value is longer than the plain one (SQLite does not check)
        for column in _SEALED:
            op.alter_column("complaints", column, type_=sa.Text())
    _hops_pseudonymisable()


def downgrade() -> None:
    _hops_strictly_append_only()
    if op.get_bind().dialect.name != "sqlite":
        for column, length in _SEALED.items():
            op.alter_column("complaints", column, type_=sa.String(length=length))
    op.drop_index("ix_complaints_nik_hash", table_name="complaints")
    op.drop_column("complaints", "nik_hash")
    op.drop_column("messages", "erased_at")
    op.drop_index("ix_complaints_retention", table_name="complaints")
    op.drop_column("complaints", "retention_stage")
    op.drop_column("complaints", "erased_at")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")


def _hops_pseudonymisable() -> None:
    if op.get_bind().dialect.name == "sqlite":
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _FACTS)
        op.execute("DROP TRIGGER IF EXISTS hops_no_update")
        op.execute(
            "CREATE TRIGGER hops_no_update BEFORE UPDATE ON hops "
            f"WHEN NOT ({same} AND (NEW.actor IS OLD.actor OR NEW.actor LIKE 'pseudonym:%') "
            "AND (NEW.reason IS OLD.reason OR NEW.reason LIKE '[pseudonymised]%')) "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
    else:
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _FACTS)
        op.execute(
            "CREATE OR REPLACE FUNCTION hops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' AND {same} "
            "AND (NEW.actor IS NOT DISTINCT FROM OLD.actor OR NEW.actor LIKE 'pseudonym:%') "
            "AND (NEW.reason IS NOT DISTINCT FROM OLD.reason OR NEW.reason LIKE '[pseudonymised]%') "
            f"THEN RETURN NEW; END IF; RAISE EXCEPTION '{_MESSAGE}'; END $$"
        )


def _hops_strictly_append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS hops_no_update")
        op.execute("CREATE TRIGGER hops_no_update BEFORE UPDATE ON hops "
                   "BEGIN SELECT RAISE(ABORT, 'the hop log is append-only'); END")
    else:
        op.execute("CREATE OR REPLACE FUNCTION hops_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'the hop log is append-only'; END $$")
