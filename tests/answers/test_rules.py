"""Each answer rule's Python and SQL forms give the same result over every input (answers.rules)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Boolean, DateTime, Integer, String, literal, select

from survey_service.answers import rules
from survey_service.extensions import db
from survey_service.invitations.models import Invitation, Status, answer_refusal, takes_answers

SCALES = [(0, 1), (1, 5), (1, 7), (0, 10)]
MODES = ["optional", "always", "never"]
NOW = datetime(2026, 11, 30, 15, 42, 7, 123456, tzinfo=UTC)


def _int(value):
    return literal(value, Integer)


def _evaluate(ctx, expressions: list) -> list:
    """Evaluate SQL expressions in one SELECT on the database."""
    return list(db.session.execute(select(*(e.label(f"e{n}") for n, e in enumerate(expressions)))).one())


def test_given_score(ctx):
    cases = list(itertools.product([None, 0, 4, 9], [None, 0, 1], SCALES))
    sql = _evaluate(ctx, [rules.GivenScore.sql(_int(n), _int(y), _int(lo), _int(hi))
                          for n, y, (lo, hi) in cases])
    assert sql == [rules.GivenScore.py(n, y, lo, hi) for n, y, (lo, hi) in cases]


def test_in_scale(ctx):
    cases = [(s, lo, hi) for (lo, hi) in SCALES for s in range(-1, 12)]
    sql = _evaluate(ctx, [rules.InScale.sql(_int(s), _int(lo), _int(hi)) for s, lo, hi in cases])
    assert sql == [rules.InScale.py(s, lo, hi) for s, lo, hi in cases]


@pytest.mark.parametrize("rule", [rules.RefusesAnonymity, rules.StoredAnonymous])
def test_anonymity_rules(ctx, rule):
    cases = list(itertools.product(MODES, [False, True]))
    sql = _evaluate(ctx, [rule.sql(literal(m, String), literal(a, Boolean)) for m, a in cases])
    assert sql == [rule.py(m, a) for m, a in cases]
    assert [rule.py(m, a) for m, a in cases] == {
        rules.RefusesAnonymity: [False, False, False, False, False, True],
        rules.StoredAnonymous: [False, True, True, True, False, True]}[rule]


@pytest.mark.parametrize("anonymous", [False, True])
def test_kept_time(ctx, anonymous):
    [sql] = _evaluate(ctx, [rules.KeptTime.sql(literal(NOW, DateTime(timezone=True)),
                                               literal(anonymous, Boolean))])
    assert sql == rules.KeptTime.py(NOW, anonymous)
    assert (sql == NOW) is not anonymous


def test_invitation_takes_answers(ctx):
    """takes_answers() in SQL is answer_refusal() is None, for every status and expiry."""
    expiries = [None, NOW - timedelta(seconds=1), NOW, NOW + timedelta(seconds=1)]
    cases = list(itertools.product(list(Status), expiries))
    sql = []
    for status, expires in cases:
        row = select(literal(status.value, String).label("status"),
                     literal(expires, Invitation.__table__.c.expires_at.type).label("expires_at")
                     ).subquery()
        sql.append(db.session.scalar(select(takes_answers(row, literal(NOW, DateTime(timezone=True))))))
    assert sql == [answer_refusal(status, expires, NOW) is None for status, expires in cases]


def test_kept_agent(ctx):
    """Only an anonymous answer to a survey agents answer loses its agent; a customer's keeps it."""
    cases = list(itertools.product(["a-7", None], [False, True], ["customer", "agent"]))
    sql = _evaluate(ctx, [rules.KeptAgent.sql(literal(a, String), literal(anon, Boolean), literal(r, String))
                          for a, anon, r in cases])
    assert sql == [rules.KeptAgent.py(a, anon, r) for a, anon, r in cases]
    assert [rules.KeptAgent.py("a-7", anon, r) for anon in (False, True) for r in ("customer", "agent")] == [
        "a-7", "a-7", "a-7", None]
