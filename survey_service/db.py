"""Declarative base with a naming convention, UTC time helpers and transaction helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, registry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def constant(value: str | int | bool) -> ColumnElement:
    """A constant of the code written into the SQL, not sent as a parameter: shorter statements.

    Only for values the code itself supplies, never for input.
    """
    if isinstance(value, bool):
        return literal_column("true" if value else "false", Boolean)
    if isinstance(value, int):
        return literal_column(str(int(value)), Integer)
    return literal_column("'" + str(value).replace("'", "''") + "'", String)


def unit_connection():
    """The connection for a unit of work that is a single statement.

    On PostgreSQL it is an autocommit connection kept for the app context: each statement commits
    itself, without the BEGIN and COMMIT round trips of a transaction. Elsewhere (SQLite) it is the
    session's connection, and the caller commits as usual.
    """
    from flask import g

    from survey_service.extensions import db

    connection = g.get("unit_connection")
    if connection is not None:
        return connection
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return db.session.connection()
    connection = g.unit_connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return connection


def commit_session() -> None:
    """Commit the request's session if it has one: work done on the unit connection opened none,
    and creating a session only to commit nothing costs more than the statement it follows."""
    from survey_service.extensions import db

    if db.session.registry.has():
        db.session.commit()


def rollback_unit() -> None:
    """After a failed statement: roll back the session and reset the autocommit connection, if any."""
    from flask import g

    from survey_service.extensions import db

    connection = g.get("unit_connection")
    if connection is not None:
        connection.rollback()
    db.session.rollback()


def close_unit_connection(_exc=None) -> None:
    """Give the app context's autocommit connection back to the pool."""
    from flask import g

    connection = g.pop("unit_connection", None)
    if connection is not None:
        connection.close()


class Base(DeclarativeBase):
    """Base of every model; constraint names follow NAMING so migrations are stable."""

    registry = registry(metadata=MetaData(naming_convention=NAMING),
                        type_annotation_map={datetime: UTCDateTime})
