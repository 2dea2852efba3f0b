"""Answers written straight into the responses table, so score tests need no invitations."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.surveys.models import Survey


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
def reader(make_key):
    """Headers of a key with the reports:read scope."""
    return make_key("reports:read")
