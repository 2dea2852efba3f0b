"""POST /api/v1/answers: 201, 404, 409, 410, 422; one answer per invitation; anonymity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey_service.answers.models import Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation

URL = "/api/v1/answers"


def responses(app):
    with app.app_context():
        return db.session.scalars(select(Response)).all()


def test_answer_is_recorded_once(client, sent, app):
    token, inv_id = sent()
    res = client.post(URL, json={"token": token, "score": 5, "reason": "快"})
    assert res.status_code == 201, res.json
    assert res.json["score"] == 5 and res.json["survey"] == "csat-call"
    assert res.json["anonymous"] is False
    again = client.post(URL, json={"token": token, "score": 1})
    assert again.status_code == 409
    [row] = responses(app)
    assert row.score == 5 and row.reason == "快" and row.invitation_id == inv_id
    assert row.agent_id == "a-7" and row.customer_id == "c-1"
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == "answered"


def test_unknown_token_is_404(client, seeded):
    assert client.post(URL, json={"token": "x" * 43, "score": 3}).status_code == 404


def test_expired_is_410_and_writes_nothing(client, sent, app):
    token, inv_id = sent()
    with app.app_context():
        db.session.get(Invitation, inv_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    res = client.post(URL, json={"token": token, "score": 3})
    assert res.status_code == 410
    assert responses(app) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"score": 6}, "score"), ({"score": 0}, "score"), ({"score": "5"}, "score"),
    ({"score": 3, "reason": "x" * 2001}, "reason"), ({"score": 3, "extra": 1}, "extra"),
    ({}, "score"),
])
def test_bad_answer_is_422_naming_field(client, sent, app, body, field):
    token, inv_id = sent()
    res = client.post(URL, json={"token": token, **body})
    assert res.status_code == 422, res.json
    assert field in res.json["errors"]["json"]
    assert responses(app) == []
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == "sent"


def test_anonymous_answer_is_unlinkable(client, sent, app):
    token, inv_id = sent()
    res = client.post(URL, json={"token": token, "score": 2, "reason": "slow", "anonymous": True})
    assert res.status_code == 201
    assert res.json["anonymous"] is True
    assert "T" not in res.json["answered_at"]  # a date only
    [row] = responses(app)
    assert (row.invitation_id, row.interaction_id, row.customer_id) == (None, None, None)
    assert row.answered_at.hour == 0 and row.answered_at.minute == 0
    assert row.agent_id == "a-7" and row.interaction_type == "call"
    assert (row.channel, row.answer_channel) == ("sms", "web")  # asked by SMS, answered on the web
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == "answered"
    assert client.post(URL, json={"token": token, "score": 2}).status_code == 409


def test_anonymous_on_never_survey_is_422(client, sent, app):
    token, _ = sent(survey_changes={"anonymity": "never"})
    res = client.post(URL, json={"token": token, "score": 4, "anonymous": True})
    assert res.status_code == 422 and "anonymous" in res.json["errors"]["json"]
    assert responses(app) == []


def test_always_anonymous_survey_makes_every_answer_anonymous(client, sent, app):
    token, _ = sent(survey_changes={"anonymity": "always"})
    assert client.post(URL, json={"token": token, "score": 4}).json["anonymous"] is True
    assert responses(app)[0].customer_id is None


def test_concurrent_answers_record_one(client, sent, app):
    """Two threads answering the same token: exactly one 201, one 409."""
    import threading

    token, _ = sent()
    codes = []

    def post():
        codes.append(app.test_client().post(URL, json={"token": token, "score": 3}).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409, 409, 409]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1


def test_answers_are_rate_limited_per_token(client, sent, app):
    token, _ = sent()
    limit = int(app.config["ANSWER_RATE_LIMIT_TOKEN"].split()[0])
    answers = [client.post(URL, json={"token": token, "score": 99}) for _ in range(limit + 1)]
    assert [a.status_code for a in answers[:limit]] == [422] * limit
    assert answers[-1].status_code == 429
    # Clients see their budget on every limited answer, and when to come back once it is spent.
    assert answers[0].headers["X-RateLimit-Limit"] == str(limit)
    assert answers[0].headers["X-RateLimit-Remaining"] == str(limit - 1)
    assert int(answers[-1].headers["Retry-After"]) > 0
    other, _ = sent(external_id="call-2")
    assert client.post(URL, json={"token": other, "score": 3}).status_code == 201
