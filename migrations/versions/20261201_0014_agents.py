"""agents: the agent directory, effort answers' task, and task as a score rollup key

Revision ID: 0014_agents
Revises: 0013_imports
Create Date: 2026-12-01 19:00:00

"""
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0014_agents'
down_revision: Union[str, Sequence[str], None] = '0013_imports'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_KEY = ["grain", "cube", "metric", "period", "day_only", "survey_id", "agent_id", "team", "queue", "channel",
           "answer_channel", "interaction_type", "score"]
KEY = [*OLD_KEY[:-1], "task", "score"]

# The seeded aes-agent survey's tasks and their labels, as a fresh database gets them (seeds.json).
TASKS = ["billing-lookup", "refund", "order-change", "technical-issue", "other"]
LABELS = {
    "en": {"billing-lookup": "Billing lookup", "refund": "Refund", "order-change": "Order change",
           "technical-issue": "Technical issue", "other": "Other"},
    "zh-Hans": {"billing-lookup": "账单查询", "refund": "退款", "order-change": "订单变更",
                "technical-issue": "技术问题", "other": "其他"},
    "zh-Hant": {"billing-lookup": "帳單查詢", "refund": "退款", "order-change": "訂單變更",
                "technical-issue": "技術問題", "other": "其他"},
}


def upgrade() -> None:
    """New columns start empty; rollup rows counted so far had no task, which NULL says."""
    op.create_table(
        'agents',
        sa.Column('id', sa.String(length=128), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('team', sa.String(length=128), nullable=True),
        sa.Column('email', sa.String(length=320), nullable=True),
        sa.Column('locale', sa.String(length=16), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    )
    op.add_column('surveys', sa.Column('tasks', sa.JSON(), nullable=True))
    op.add_column('responses', sa.Column('task', sa.String(length=64), nullable=True))
    op.add_column('score_rollups', sa.Column('task', sa.String(length=64), nullable=True))
    op.drop_index('uq_score_rollups_key', table_name='score_rollups')
    op.create_index('uq_score_rollups_key', 'score_rollups', KEY, unique=True,
                    postgresql_nulls_not_distinct=True)
    _seed_tasks()


def _seed_tasks() -> None:
    """Give an existing aes-agent survey without tasks the seeded list and its labels."""
    bind = op.get_bind()
    row = bind.execute(sa.text("SELECT id, texts FROM surveys WHERE key = 'aes-agent' AND tasks IS NULL")).first()
    if row is None:
        return
    texts = row.texts if isinstance(row.texts, dict) else json.loads(row.texts or "{}")
    for locale, labels in LABELS.items():
        if locale in texts or locale == "en":
            texts.setdefault(locale, {}).setdefault("tasks", labels)
    bind.execute(sa.text("UPDATE surveys SET tasks = CAST(:tasks AS json), texts = CAST(:texts AS json) "
                         "WHERE id = :id"),
                 {"tasks": json.dumps(TASKS), "texts": json.dumps(texts, ensure_ascii=False), "id": row.id})


def downgrade() -> None:
    """Rows that differ only by task would collide without it: the rollups count every answer again."""
    op.execute("TRUNCATE score_rollups, rollup_marks")
    op.drop_index('uq_score_rollups_key', table_name='score_rollups')
    op.drop_column('score_rollups', 'task')
    op.create_index('uq_score_rollups_key', 'score_rollups', OLD_KEY, unique=True,
                    postgresql_nulls_not_distinct=True)
    op.drop_column('responses', 'task')
    op.drop_column('surveys', 'tasks')
    op.drop_table('agents')
