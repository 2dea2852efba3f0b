"""the sweep's queue by wake_at; HOT updates for answers and delivery receipts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 21:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The sweep finds due rows by wake_at; no index names status (nor the unread provider_id).

    Open rows wake at their due time, queue or send time, or expiry: the sweep then works out the
    exact next wake time of each (invitations.wake), so an early first wake is safe.
    """
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wake_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE invitations SET wake_at = CASE"
        " WHEN status = 'scheduled' THEN COALESCE(due_at, created_at)"
        " WHEN status = 'queued' THEN COALESCE(queued_at, created_at)"
        " WHEN status = 'sending' THEN COALESCE(sending_at, created_at)"
        " WHEN status IN ('sent', 'delivered') THEN expires_at END")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_wake_at', ['wake_at'], unique=False)
        batch_op.drop_index('ix_invitations_status_due_at')
        batch_op.drop_index('ix_invitations_provider_id')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE invitations SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE invitations RESET (fillfactor)")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_provider_id', ['provider_id'], unique=False)
        batch_op.create_index('ix_invitations_status_due_at', ['status', 'due_at'], unique=False)
        batch_op.drop_index('ix_invitations_wake_at')
        batch_op.drop_column('wake_at')
