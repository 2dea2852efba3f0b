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
from sqlalchemy.exc import DBAPIError
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


class DriverStatement:
    """A Core statement compiled once and run straight on psycopg's cursor, for the hottest paths.

    SQLAlchemy's per-call execution machinery (context, parameter and result processing) costs as
    much CPU as psycopg's own work for a statement that is otherwise one round trip. Parameters go
    through their types' bind processors as usual; result columns are taken as psycopg reads them,
    so only for PostgreSQL statements whose columns need no result processing (aware timestamps,
    JSON, numbers and text).
    """

    def __init__(self, statement):
        self.statement = statement
        self._sql: str | None = None
        self._compiled = None
        self._processors: dict = {}

    def compile(self, dialect) -> None:
        """Compile for the dialect, once; refuses statements that lean on Python-side defaults."""
        compiled = self.statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Python-side column defaults are filled in by the execution machinery skipped here.
            names = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"set these columns explicitly in the statement: {', '.join(names)}")
        for bind in compiled.binds.values():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[bind.key] = processor
        self._compiled, self._sql = compiled, compiled.string

    def rows(self, connection, params: dict) -> list:
        """Run it; rows with attribute access by column name. Other databases run it the usual way."""
        if connection.dialect.driver != "psycopg":
            return connection.execute(self.statement, params).all()
        from psycopg.rows import namedtuple_row

        if self._sql is None:
            self.compile(connection.dialect)
        values = self._compiled.construct_params(params)
        for key, processor in self._processors.items():
            values[key] = processor(values[key])
        dbapi_error = connection.dialect.loaded_dbapi.Error
        try:
            with connection.connection.driver_connection.cursor(row_factory=namedtuple_row) as cursor:
                cursor.execute(self._sql, values)
                return cursor.fetchall()
        except dbapi_error as exc:  # the exceptions SQLAlchemy would raise (IntegrityError, ...)
            raise DBAPIError.instance(self._sql, values, exc, dbapi_error) from exc

    def one(self, connection, params: dict):
        """The single row of a statement that returns exactly one."""
        [row] = self.rows(connection, params)
        return row


def unit_connection():
    """The connection for a unit of work that is a single statement.

    On PostgreSQL it comes from a pool of autocommit connections and is kept for the app context:
    each statement commits itself, without the BEGIN and COMMIT round trips of a transaction.
    Elsewhere (SQLite) it is the session's connection, and the caller commits as usual.
    """
    from flask import current_app, g

    from survey_service.extensions import db

    connection = g.get("unit_connection")
    if connection is not None:
        return connection
    engine = current_app.extensions.get("unit_engine")
    if engine is None:
        engine = current_app.extensions["unit_engine"] = _unit_engine(
            db.engine, current_app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if engine is False:
        return db.session.connection()
    connection = g.unit_connection = engine.connect()
    return connection


def _unit_engine(main, options: dict):
    """PostgreSQL: a pool of connections that stay in autocommit (no switching on every checkout and
    no rollback on every return). False for other databases, which use the session's connection."""
    from sqlalchemy import create_engine

    if main.dialect.name != "postgresql":
        return False
    return create_engine(main.url, **options, isolation_level="AUTOCOMMIT",
                         pool_reset_on_return=None)


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
