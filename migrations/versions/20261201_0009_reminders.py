"""reminders: the last one's time and link, a pending one, and whether the answer followed one

Revision ID: 0007_reminders
Revises: 0007_optouts
Create Date: 2026-12-01 15:45:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007_reminders'
down_revision: Union[str, Sequence[str], None] = '0007_optouts'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The sweep still finds reminders through wake_at alone; only the reminder's link is indexed,
    unique and partial: a row without one adds no entry (intake), and neither an answer nor a
    receipt changes it, so their updates stay HOT.
    Whether an answer came after a reminder is a generated column: the answer statement is unchanged.

    Open rows keep their wake time (expiry); the sweep works out their first reminder when it
    next looks at them, so rows sent before this revision get no reminder earlier than expiry.
    """
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminder_queued_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column(
            'answered_after_reminder', sa.Boolean(),
            sa.Computed('COALESCE(reminded_at <= answered_at, false)', persisted=True),
            nullable=False))
        batch_op.add_column(sa.Column('reminder_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_invitations_reminder_token_hash', ['reminder_token_hash'],
                              unique=True,
                              postgresql_where=sa.text('reminder_token_hash IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_reminder_token_hash')
        batch_op.drop_column('reminder_token_hash')
        batch_op.drop_column('answered_after_reminder')
        batch_op.drop_column('reminder_queued_at')
        batch_op.drop_column('reminded_at')
