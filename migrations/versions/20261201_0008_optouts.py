"""opt-outs of erased customers kept by a keyed hash of their address

Revision ID: 0007_optouts
Revises: 0007_incentives
Create Date: 2026-12-01 16:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007_optouts'
down_revision: Union[str, Sequence[str], None] = '0007_incentives'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """A row holds its address or, once its customer is erased, only the address's keyed hash."""
    with op.batch_alter_table('opt_outs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address_hash', sa.String(length=64), nullable=True))
        batch_op.alter_column('address', existing_type=sa.String(length=320), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_opt_outs_channel_address_hash'),
                                          ['channel', 'address_hash'])
        batch_op.create_check_constraint(batch_op.f('ck_opt_outs_address_or_hash'),
                                         '(address IS NULL) <> (address_hash IS NULL)')


def downgrade() -> None:
    """Hashed rows name no address to go back to: they are dropped."""
    op.execute("DELETE FROM opt_outs WHERE address IS NULL")
    with op.batch_alter_table('opt_outs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_opt_outs_address_or_hash'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_opt_outs_channel_address_hash'), type_='unique')
        batch_op.alter_column('address', existing_type=sa.String(length=320), nullable=False)
        batch_op.drop_column('address_hash')
