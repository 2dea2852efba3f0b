"""index customer contacts for throttling

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:10:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The throttle looks customers up by phone and email as well as by id."""
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interactions_customer_phone'), ['customer_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_interactions_customer_email'), ['customer_email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interactions_customer_email'))
        batch_op.drop_index(batch_op.f('ix_interactions_customer_phone'))
