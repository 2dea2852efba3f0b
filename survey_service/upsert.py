"""INSERT ... ON CONFLICT DO NOTHING, for the paths that deduplicate retries in one statement."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from survey_service.extensions import db

# One statement per table, built on first use: the values go in as parameters.
_STATEMENTS: dict = {}


def if_absent_statement(table):
    """The table's INSERT ... ON CONFLICT DO NOTHING RETURNING its key, for execution with values."""
    stmt = _STATEMENTS.get(table)
    if stmt is None:
        stmt = _STATEMENTS[table] = insert(table).on_conflict_do_nothing().returning(
            *table.primary_key.columns)
    return stmt


def insert_if_absent(model, **values) -> bool:
    """Insert one row unless it breaks a unique constraint; True when this call inserted it.

    One statement, no savepoint: the hot webhook paths use it to deduplicate retries.
    """
    return db.session.connection().execute(if_absent_statement(model.__table__), values).first() is not None
