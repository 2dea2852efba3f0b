"""Declarative base with a naming convention, and UTC time helpers."""

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
    """Stores aware datetimes as UTC and refuses naive ones, which would be read in the server's zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
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


class Base(DeclarativeBase):
    """Base of every model; constraint names follow NAMING so migrations are stable."""

    registry = registry(metadata=MetaData(naming_convention=NAMING),
                        type_annotation_map={datetime: UTCDateTime})
