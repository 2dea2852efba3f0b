"""record_answer with a plain row (as the SMS path reads it): a stale row still answers only once."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from survey_service.answers import service
from survey_service.answers.models import Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation


def test_a_row_answers_once_and_a_stale_row_is_refused(sent, app):
    _, inv_id = sent()
    with app.app_context():
        target = service.target_of(db.session.get(Invitation, inv_id))
        db.session.rollback()
        response = service.record_answer(target, service.Answer(score=4, channel="sms"))
        db.session.commit()
        assert response.invitation_id == inv_id and response.score == 4
        # The same row, read before that answer, still says `sent`: the UPDATE decides.
        with pytest.raises(service.AlreadyAnswered):
            service.record_answer(target, service.Answer(score=2, channel="sms"))
        db.session.rollback()
        assert [r.score for r in db.session.scalars(select(Response))] == [4]
        assert db.session.get(Invitation, inv_id).status == "answered"


def test_an_anonymous_row_answer_is_unlinkable(sent, app):
    _, inv_id = sent()
    with app.app_context():
        target = dataclasses.replace(service.target_of(db.session.get(Invitation, inv_id)),
                                     anonymity="always")
        db.session.rollback()
        service.record_answer(target, service.Answer(score=3, channel="sms"), now=utcnow())
        db.session.commit()
        stored = db.session.scalars(select(Response)).one()
        assert stored.anonymous and stored.invitation_id is None and stored.interaction_id is None
        assert stored.customer_id is None
        assert (stored.answered_at.hour, stored.answered_at.minute, stored.answered_at.second) == (0, 0, 0)
