"""inbound messages keyed by MessageSid; CallSid index only for calls

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Every inbound text and scored SMS keeps two fewer indexes up to date."""
    with op.batch_alter_table('inbound_messages', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('uq_inbound_messages_message_sid', type_='unique')
        batch_op.drop_constraint('pk_inbound_messages', type_='primary')
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_inbound_messages', ['message_sid'])
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_call_sid')
        batch_op.create_index('ix_conversations_call_sid', ['call_sid'], unique=False,
                              postgresql_where=sa.text('call_sid IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_call_sid')
        batch_op.create_index('ix_conversations_call_sid', ['call_sid'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('pk_inbound_messages', 'inbound_messages', type_='primary')
        op.execute("ALTER TABLE inbound_messages ADD COLUMN id SERIAL")  # numbers the rows
        op.create_primary_key('pk_inbound_messages', 'inbound_messages', ['id'])
        op.create_unique_constraint('uq_inbound_messages_message_sid', 'inbound_messages',
                                    ['message_sid'])
        return
    with op.batch_alter_table('inbound_messages', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_inbound_messages', type_='primary')
        batch_op.add_column(sa.Column('id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_inbound_messages_message_sid', ['message_sid'])
    op.execute("UPDATE inbound_messages SET id = (SELECT count(*) FROM inbound_messages AS o "
               "WHERE o.message_sid <= inbound_messages.message_sid)")
    with op.batch_alter_table('inbound_messages', schema=None, recreate='always') as batch_op:
        batch_op.alter_column('id', nullable=False)
        batch_op.create_primary_key('pk_inbound_messages', ['id'])
