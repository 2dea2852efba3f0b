"""score rollups: answers counted per 15-minute slot and per local day, and how far each grain counted

Revision ID: 0012_rollups
Revises: 0011_answer_channel
Create Date: 2026-12-01 18:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0012_rollups'
down_revision: Union[str, Sequence[str], None] = '0011_answer_channel'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEY = ["grain", "cube", "metric", "period", "day_only", "survey_id", "agent_id", "team", "queue", "channel",
       "answer_channel", "interaction_type", "score"]


def upgrade() -> None:
    """Empty tables: each grain starts with no mark and counts every answer on its first runs."""
    op.create_table(
        'score_rollups',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('grain', sa.String(length=64), nullable=False),
        sa.Column('cube', sa.String(length=16), nullable=False),
        sa.Column('metric', sa.String(length=8), nullable=False),
        sa.Column('period', sa.DateTime(timezone=True), nullable=False),
        sa.Column('day_only', sa.Boolean(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.String(length=128), nullable=True),
        sa.Column('team', sa.String(length=128), nullable=True),
        sa.Column('queue', sa.String(length=128), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.Column('answer_channel', sa.String(length=16), nullable=True),
        sa.Column('interaction_type', sa.String(length=16), nullable=True),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_score_rollups_survey_id_surveys')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_score_rollups')),
    )
    op.create_index('uq_score_rollups_key', 'score_rollups', KEY, unique=True,
                    postgresql_nulls_not_distinct=True)
    op.execute("CREATE TABLE rollup_marks (grain varchar(64) NOT NULL, txid xid8 NOT NULL, "
               "response_id varchar(32) NOT NULL, CONSTRAINT pk_rollup_marks PRIMARY KEY (grain))")


def downgrade() -> None:
    op.drop_table('rollup_marks')
    op.drop_index('uq_score_rollups_key', table_name='score_rollups')
    op.drop_table('score_rollups')
