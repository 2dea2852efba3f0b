"""`channel` is the channel the invitation went out on; `answer_channel` the way the answer came back."""

from __future__ import annotations

from sqlalchemy import insert, select, text

from survey_service.answers.models import Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.surveys.models import Survey


def test_an_email_invitation_answered_on_the_web_counts_as_email(app, client, sent, make_key):
    reader = make_key("reports:read")
    token, inv_id = sent(survey="ces-chat", type="chat", external_id="chat-1")
    with app.app_context():
        assert db.session.get(Invitation, inv_id).channel == "email"
    res = client.post("/api/v1/answers", json={"token": token, "score": 6})
    assert res.status_code == 201, res.json
    assert (res.json["channel"], res.json["answer_channel"]) == ("email", "web")
    with app.app_context():
        row = db.session.execute(select(Response.channel, Response.answer_channel)).one()
    assert tuple(row) == ("email", "web")
    [item] = client.get("/api/v1/responses", headers=reader).json["items"]
    assert (item["channel"], item["answer_channel"]) == ("email", "web")
    by_channel = client.get("/api/v1/scores", query_string={"metric": "ces", "group_by": "channel"},
                            headers=reader).json["items"]
    by_answer = client.get("/api/v1/scores", query_string={"metric": "ces", "group_by": "answer_channel"},
                           headers=reader).json["items"]
    assert [(r["channel"], r["n"]) for r in by_channel] == [("email", 1)]
    assert [(r["answer_channel"], r["n"]) for r in by_answer] == [("web", 1)]
    only_email = client.get("/api/v1/responses", query_string={"answer_channel": "sms"}, headers=reader)
    assert only_email.json["items"] == []


def test_the_migration_gives_linked_answers_their_invitations_channel(database_at):
    """Before 0011 `channel` held the way back; linked rows learn the invitation's, anonymous ones keep it."""
    from alembic import command

    config, engine = database_at("0010_feed")
    with engine.begin() as conn:
        conn.execute(insert(Survey.__table__).values(id=1, key="k", name="n", metric="csat",
                                                     scale_min=1, scale_max=5))
        conn.execute(insert(Interaction.__table__).values(
            id=1, source="pbx", external_id="c1", type="call", ended_at=utcnow(), request_hash="0" * 64))
        conn.execute(insert(Invitation.__table__).values(
            id=1, interaction_id=1, survey_id=1, channel="email", status="answered", due_at=utcnow()))
        conn.execute(text("INSERT INTO responses (id, survey_id, metric, score, anonymous, channel, "
                          "answered_at, invitation_id) VALUES ('linked', 1, 'csat', 4, false, 'web', "
                          "now(), 1), ('anon', 1, 'csat', 2, true, 'sms', now(), NULL)"))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        rows = dict(conn.execute(
            text("SELECT id, channel || '/' || answer_channel FROM responses")).all())
    assert rows == {"linked": "email/web", "anon": "sms/sms"}
