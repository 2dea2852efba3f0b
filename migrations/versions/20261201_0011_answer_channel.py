"""responses: channel is the invitation's channel, answer_channel the way the answer came back

Revision ID: 0011_answer_channel
Revises: 0010_feed
Create Date: 2026-12-01 18:00:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0011_answer_channel'
down_revision: Union[str, Sequence[str], None] = '0010_feed'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """What was stored as `channel` was the answer's way back; linked answers learn their invitation's.

    Anonymous answers have no link to their invitation, so theirs stays the way the answer came.
    """
    op.execute("ALTER TABLE responses ADD COLUMN answer_channel varchar(16)")
    op.execute("UPDATE responses SET answer_channel = channel")
    op.execute("""
        UPDATE responses r SET channel = i.channel
        FROM invitations i WHERE i.id = r.invitation_id AND i.channel <> r.channel""")
    op.execute("ALTER TABLE responses ALTER COLUMN answer_channel SET NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE responses SET channel = answer_channel")
    op.drop_column('responses', 'answer_channel')
