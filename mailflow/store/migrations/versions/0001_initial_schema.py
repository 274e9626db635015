"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 02:40:46.191285
"""

from alembic import op
import sqlalchemy as sa
import mailflow.store.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('category_name', sa.String(length=200), nullable=False),
    sa.Column('section', sa.String(length=64), nullable=False),
    sa.Column('complainant_name', sa.String(length=200), nullable=False),
    sa.Column('complainant_email', sa.String(length=320), nullable=False),
    sa.Column('nik', sa.String(length=16), nullable=False),
    sa.Column('kk', sa.String(length=16), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('holder_role', sa.String(length=64), nullable=True),
    sa.Column('step_started_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reply_token', sa.String(length=64), nullable=False),
    sa.Column('source_message_pk', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('year', 'seq', name='uq_complaints_year_seq')
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_complainant_email'), ['complainant_email'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_status'), ['status'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('mailbox_state',
    sa.Column('mailbox', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('mailbox')
    )
    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.String(length=998), nullable=True),
    sa.Column('dedupe_key', sa.String(length=1000), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('from_addr', sa.String(length=320), nullable=False),
    sa.Column('to_addrs', sa.Text(), nullable=False),
    sa.Column('in_reply_to', sa.String(length=998), nullable=True),
    sa.Column('mailbox', sa.String(length=200), nullable=True),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('uid', sa.BigInteger(), nullable=True),
    sa.Column('classification', sa.String(length=32), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('created_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_message_id'), ['message_id'], unique=False)

    op.create_table('hops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('message_pk', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('from_state', sa.String(length=64), nullable=True),
    sa.Column('to_state', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.String(length=998), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('hops', schema=None) as batch_op:
        batch_op.create_index('ix_hops_complaint_id_id', ['complaint_id', 'id'], unique=False)
        batch_op.create_index('ix_hops_kind_at', ['kind', 'at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('envelope_from', sa.String(length=320), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', mailflow.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_pk')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index('ix_outbox_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)

    _hops_append_only()


def downgrade() -> None:
    _drop_hops_append_only()
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_outbox_complaint_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('hops', schema=None) as batch_op:
        batch_op.drop_index('ix_hops_kind_at')
        batch_op.drop_index('ix_hops_complaint_id_id')

    op.drop_table('hops')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_message_id'))
        batch_op.drop_index(batch_op.f('ix_messages_complaint_id'))

    op.drop_table('messages')
    op.drop_table('mailbox_state')
    op.drop_table('counters')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_status'))
        batch_op.drop_index(batch_op.f('ix_complaints_due_at'))
        batch_op.drop_index(batch_op.f('ix_complaints_created_at'))
        batch_op.drop_index(batch_op.f('ix_complaints_complainant_email'))

    op.drop_table('complaints')


def _hops_append_only() -> None:
    """The hop log is evidence: refuse UPDATE and DELETE on it in the database itself."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER hops_no_{verb.lower()} BEFORE {verb} ON hops "
                "BEGIN SELECT RAISE(ABORT, 'the hop log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION hops_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the hop log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER hops_append_only BEFORE UPDATE OR DELETE ON hops "
            "FOR EACH ROW EXECUTE FUNCTION hops_append_only()"
        )


def _drop_hops_append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS hops_no_update")
        op.execute("DROP TRIGGER IF EXISTS hops_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS hops_append_only ON hops")
        op.execute("DROP FUNCTION IF EXISTS hops_append_only()")
