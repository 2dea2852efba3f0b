"""Statement helpers: constants written into the SQL, statements run straight on psycopg."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.exc import IntegrityError

from survey_service.answers.models import InboundMessage
from survey_service.db import constant, utcnow
from survey_service.fastpath import DriverStatement, unit_connection
from survey_service.invitations.models import Invitation


def test_constants_are_written_into_the_sql_quoted():
    sql = str(select(constant("it's"), constant(7), constant(True)).compile(dialect=psycopg.dialect()))
    assert "'it''s'" in sql and "7" in sql and "true" in sql and "%(" not in sql


def test_driver_statements_refuse_python_side_defaults():
    """Such defaults are filled in by the machinery a DriverStatement skips: they must be explicit."""
    statement = DriverStatement(insert(Invitation).values(interaction_id=1, survey_id=1))
    with pytest.raises(ValueError, match="attempts"):
        statement.compile(psycopg.dialect())


def test_driver_statements_raise_what_sqlalchemy_raises(app):
    """A unique violation is an IntegrityError on either database, so callers handle one kind."""
    table = InboundMessage.__table__
    statement = DriverStatement(insert(table).values(
        message_sid=bindparam("sid", type_=table.c.message_sid.type),
        received_at=bindparam("at", type_=table.c.received_at.type)).returning(table.c.message_sid))
    with app.app_context():
        connection = unit_connection()
        values = {"sid": "SMtwice", "at": utcnow()}
        [row] = statement.rows(connection, values)
        assert row.message_sid == "SMtwice"
        with pytest.raises(IntegrityError):
            statement.rows(connection, values)
