"""INSERT ... ON CONFLICT DO NOTHING for the two databases the service runs on."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from survey_service.extensions import db


def insert_if_absent(model, **values) -> bool:
    """Insert one row unless it breaks a unique constraint; True when this call inserted it.

    One statement, no savepoint: the hot webhook paths use it to deduplicate retries.
    """
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    table = model.__table__
    stmt = (dialect.insert(table).values(**values).on_conflict_do_nothing()
            .returning(*table.primary_key.columns))
    return db.session.execute(stmt).first() is not None
