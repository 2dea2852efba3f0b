"""responses feed: the inserting transaction's id and an index to page in its order

Revision ID: 0010_feed
Revises: 0007_reminders
Create Date: 2026-12-01 17:00:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0010_feed'
down_revision: Union[str, Sequence[str], None] = '0007_reminders'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Existing rows take this migration's transaction id; new rows their own, by the default.

    When an SMS or voice reason step ends (the conversation's link to its response is cleared or the
    conversation deleted), the response is stamped with that transaction's id: the feed held it back
    while the step was open, and the new id places it after every cursor served meanwhile.
    """
    op.execute("ALTER TABLE responses ADD COLUMN feed_txid xid8")
    op.execute("UPDATE responses SET feed_txid = pg_current_xact_id()")
    op.execute("ALTER TABLE responses ALTER COLUMN feed_txid SET DEFAULT pg_current_xact_id()")
    op.execute("ALTER TABLE responses ALTER COLUMN feed_txid SET NOT NULL")
    op.create_index('ix_responses_feed', 'responses', ['feed_txid', 'id'])
    op.execute("""
        CREATE FUNCTION responses_feed_restamp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE responses SET feed_txid = pg_current_xact_id() WHERE id = OLD.response_id;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER conversations_feed_restamp
        AFTER UPDATE OF response_id ON conversations FOR EACH ROW
        WHEN (OLD.response_id IS NOT NULL AND NEW.response_id IS DISTINCT FROM OLD.response_id)
        EXECUTE FUNCTION responses_feed_restamp()""")
    op.execute("""
        CREATE TRIGGER conversations_feed_restamp_delete
        AFTER DELETE ON conversations FOR EACH ROW
        WHEN (OLD.response_id IS NOT NULL)
        EXECUTE FUNCTION responses_feed_restamp()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER conversations_feed_restamp_delete ON conversations")
    op.execute("DROP TRIGGER conversations_feed_restamp ON conversations")
    op.execute("DROP FUNCTION responses_feed_restamp()")
    op.drop_index('ix_responses_feed', table_name='responses')
    op.drop_column('responses', 'feed_txid')
