"""INSERT ... ON CONFLICT DO NOTHING for the two databases the service runs on."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from survey_service.extensions import db

# One statement per table and dialect, built on first use: the values go in as parameters.
_STATEMENTS: dict = {}


def if_absent_statement(table, dialect_name: str):
    """The table's INSERT ... ON CONFLICT DO NOTHING RETURNING its key, for execution with values."""
    stmt = _STATEMENTS.get((table, dialect_name))
    if stmt is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        stmt = _STATEMENTS[(table, dialect_name)] = (
            dialect.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns))
    return stmt


def insert_if_absent(model, **values) -> bool:
    """Insert one row unless it breaks a unique constraint; True when this call inserted it.

    One statement, no savepoint: the hot webhook paths use it to deduplicate retries.
    """
    connection = db.session.connection()
    stmt = if_absent_statement(model.__table__, connection.dialect.name)
    return connection.execute(stmt, values).first() is not None
