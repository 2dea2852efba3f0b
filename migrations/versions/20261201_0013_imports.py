"""imported responses: where an answer came from, and the key that stores an imported one once

Revision ID: 0013_imports
Revises: 0012_rollups
Create Date: 2026-12-01 18:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0013_imports'
down_revision: Union[str, Sequence[str], None] = '0012_rollups'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Existing answers came from surveys: the server default stamps them, and every live answer after."""
    op.add_column('responses', sa.Column('source', sa.String(length=8), server_default=sa.text("'survey'"),
                                         nullable=False))
    op.add_column('responses', sa.Column('import_key', sa.String(length=128), nullable=True))
    op.create_check_constraint(op.f('ck_responses_source_known'), 'responses', "source IN ('survey','import')")
    op.create_index('uq_responses_survey_id_import_key', 'responses', ['survey_id', 'import_key'],
                    unique=True, postgresql_where=sa.text('import_key IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('uq_responses_survey_id_import_key', table_name='responses')
    op.drop_constraint(op.f('ck_responses_source_known'), 'responses', type_='check')
    op.drop_column('responses', 'import_key')
    op.drop_column('responses', 'source')
