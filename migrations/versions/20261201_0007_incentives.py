"""incentive codes: one per qualifying invitation, redeemable once

Revision ID: 0007_incentives
Revises: 0006
Create Date: 2026-12-01 16:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007_incentives'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The codes table; UNIQUE on the code and on the invitation (one code per invitation)."""
    op.create_table('incentive_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=11), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('sending_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('send_failure', sa.String(length=64), nullable=True),
    sa.CheckConstraint('(redeemed_at IS NULL) = (order_id IS NULL)',
                       name=op.f('ck_incentive_codes_redeemed_with_order')),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'],
                            name=op.f('fk_incentive_codes_invitation_id_invitations')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'],
                            name=op.f('fk_incentive_codes_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incentive_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_incentive_codes_code')),
    sa.UniqueConstraint('invitation_id', name=op.f('uq_incentive_codes_invitation_id'))
    )
    with op.batch_alter_table('incentive_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incentive_codes_survey_id'), ['survey_id'], unique=False)


def downgrade() -> None:
    op.drop_table('incentive_codes')
