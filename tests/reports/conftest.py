"""Answers written straight into the responses table, so score tests need no invitations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from survey_service.answers.models import Response, new_response_id
from survey_service.extensions import db
from survey_service.surveys.models import Survey

ROWS_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # when `rows` answers, unless told


@pytest.fixture
def answers(app, seeded):
    """Store one answer per score for a seeded survey, all at `at`; extra keywords set Response columns."""

    def add(survey: str, scores: list[int], at: datetime, **columns) -> None:
        with app.app_context():
            row = db.session.execute(select(Survey.id, Survey.metric).where(Survey.key == survey)).one()
            values = {"channel": "sms", "interaction_type": "call", **columns}
            for score in scores:
                db.session.add(Response(survey_id=row.id, metric=row.metric, score=score, answered_at=at,
                                        **values))
            db.session.commit()

    return add


@pytest.fixture
def rows(app, seeded):
    """Store Response rows for a seeded survey; returns their ids. Keywords set columns."""

    def add(count: int = 1, survey: str = "csat-call", **columns) -> list[str]:
        with app.app_context():
            s = db.session.execute(select(Survey.id, Survey.metric).where(Survey.key == survey)).one()
            values = {"channel": "sms", "interaction_type": "call", "score": 4, "answered_at": ROWS_AT,
                      **columns}
            ids = [new_response_id() for _ in range(count)]
            db.session.add_all(Response(id=i, survey_id=s.id, metric=s.metric, **values) for i in ids)
            db.session.commit()
            return ids

    return add


@pytest.fixture
def reader(make_key):
    """Headers of a key with the reports:read scope."""
    return make_key("reports:read")
