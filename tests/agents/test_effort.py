"""POST /api/v1/agent-effort: an agent answers for their own interactions, once, on the survey's scale."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey_service.agents import effort
from survey_service.answers.models import Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.surveys.models import Survey

URL = "/api/v1/agent-effort"


def _responses(app) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(Response).order_by(Response.answered_at)).all()
        return [{c: getattr(r, c) for c in ("score", "task", "agent_id", "team", "queue", "anonymous",
                                            "invitation_id", "interaction_id", "customer_id", "channel",
                                            "answer_channel", "answered_at", "metric", "reason")}
                for r in rows]


def _agent_invitations(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(Invitation.status, Invitation.channel, Invitation.address)
            .join(Survey, Survey.id == Invitation.survey_id).where(Survey.key == "aes-agent")).all()


def test_an_agent_answers_for_their_own_interaction_once(app, client, call, agent_key):
    call("c-1")
    mine = agent_key("a-7")
    res = client.post(URL, headers=mine, json={"source": "pbx", "interaction_external_id": "c-1",
                                               "score": 4, "task": "refund", "reason": "three tools"})
    assert res.status_code == 201, res.json
    assert res.json["survey"] == "aes-agent" and res.json["metric"] == "aes" and res.json["task"] == "refund"
    assert res.json["interaction"] == {"source": "pbx", "external_id": "c-1"}
    [row] = _responses(app)
    with app.app_context():
        inter_id = db.session.scalar(select(Interaction.id).where(Interaction.external_id == "c-1"))
    assert row["agent_id"] == "a-7" and row["team"] == "t-1" and row["queue"] == "billing"
    assert row["interaction_id"] == inter_id and row["customer_id"] == "c-1"
    assert row["reason"] == "three tools"
    assert (row["channel"], row["answer_channel"]) == ("agent", "web")
    assert _agent_invitations(app) == [("answered", "agent", "a-7")]

    again = client.post(URL, headers=mine,
                        json={"source": "pbx", "interaction_external_id": "c-1", "score": 2})
    assert again.status_code == 409
    assert len(_responses(app)) == 1


def test_another_agents_interaction_is_403_and_unknown_is_404(app, client, call, agent_key):
    call("c-1", agent="a-8")
    res = client.post(URL, headers=agent_key("a-7"),
                      json={"source": "pbx", "interaction_external_id": "c-1", "score": 3})
    assert res.status_code == 403
    res = client.post(URL, headers=agent_key("a-7"),
                      json={"source": "pbx", "interaction_external_id": "nope", "score": 3})
    assert res.status_code == 404
    assert _responses(app) == [] and _agent_invitations(app) == []


@pytest.mark.parametrize("body, field", [
    ({"source": "pbx", "interaction_external_id": "c-1", "score": 6}, "score"),
    ({"source": "pbx", "interaction_external_id": "c-1", "score": 0}, "score"),
    ({"source": "pbx", "interaction_external_id": "c-1", "score": 3, "task": "knitting"}, "task"),
    ({"source": "pbx", "score": 3}, "interaction_external_id"),
    ({"interaction_external_id": "c-1", "score": 3}, "source"),
    ({"score": 3}, "task"),
    ({"score": 3, "task": "knitting"}, "task"),
    ({"score": 9, "task": "refund"}, "score"),
    ({"source": "pbx", "interaction_external_id": "c-1", "score": "3"}, "score"),
])
def test_refusals_name_the_field_and_write_nothing(app, client, call, agent_key, body, field):
    call("c-1")
    res = client.post(URL, headers=agent_key("a-7"), json=body)
    assert res.status_code == 422, res.json
    assert field in res.json["errors"]["json"]
    assert _responses(app) == [] and _agent_invitations(app) == []


def test_only_an_agent_key_answers(client, call, admin, make_key):
    call("c-1")
    body = {"source": "pbx", "interaction_external_id": "c-1", "score": 3}
    assert client.post(URL, json=body).status_code == 401
    assert client.post(URL, headers=admin, json=body).status_code == 403
    assert client.post(URL, headers=make_key("reports:read"), json=body).status_code == 403


def test_a_task_level_answer_has_no_interaction_and_the_directorys_team(app, client, admin, agent_key,
                                                                        seeded):
    client.put("/api/v1/agents/a-7", headers=admin, json={"name": "Wang Fang", "team": "escalations"})
    res = client.post(URL, headers=agent_key("a-7"), json={"score": 5, "task": "order-change"})
    assert res.status_code == 201, res.json
    assert "interaction" not in res.json
    [row] = _responses(app)
    assert (row["agent_id"], row["team"], row["task"], row["score"]) == (
        "a-7", "escalations", "order-change", 5)
    assert row["interaction_id"] is None and row["invitation_id"] is None and not row["anonymous"]
    # not tied to an interaction, so any number of them
    res = client.post(URL, headers=agent_key("a-7"), json={"score": 4, "task": "order-change"})
    assert res.status_code == 201


def test_a_survey_without_a_task_list_takes_any_label(app, client, admin, agent_key, seeded):
    assert client.patch("/api/v1/surveys/aes-agent", headers=admin, json={"tasks": None}).status_code == 200
    res = client.post(URL, headers=agent_key("a-7"), json={"score": 2, "task": "warranty claim"})
    assert res.status_code == 201 and res.json["task"] == "warranty claim"


@pytest.mark.parametrize("interaction", [True, False])
def test_anonymity_the_survey_refuses_is_422(app, client, admin, call, agent_key, interaction):
    call("c-1")
    res = client.patch("/api/v1/surveys/aes-agent", headers=admin, json={"anonymity": "never"})
    assert res.status_code == 200
    body = {"score": 2, "task": "refund", "anonymous": True}
    if interaction:
        body.update(source="pbx", interaction_external_id="c-1")
    res = client.post(URL, headers=agent_key("a-7"), json=body)
    assert res.status_code == 422 and "anonymous" in res.json["errors"]["json"]
    assert _responses(app) == []


@pytest.mark.parametrize("interaction", [True, False])
def test_an_anonymous_agent_answer_keeps_team_and_task_not_the_agent(app, client, admin, call, agent_key,
                                                                      interaction):
    call("c-1")
    body = {"score": 4, "task": "refund", "anonymous": True}
    if interaction:
        body.update(source="pbx", interaction_external_id="c-1")
    res = client.post(URL, headers=agent_key("a-7"), json=body)
    assert res.status_code == 201, res.json
    assert res.json["anonymous"] is True and "interaction" not in res.json
    assert len(res.json["answered_at"]) == 10  # the day only
    [row] = _responses(app)
    assert row["agent_id"] is None and row["interaction_id"] is None and row["invitation_id"] is None
    assert row["customer_id"] is None and row["team"] == "t-1" and row["task"] == "refund"
    assert row["answered_at"] == row["answered_at"].replace(hour=0, minute=0, second=0, microsecond=0)
    reader = make_reader(client, admin)
    [item] = client.get("/api/v1/responses", headers=reader).json["items"]
    assert (item["agent"], item["team"], item["task"]) == (None, "t-1", "refund")
    assert "interaction" not in item and "customer_id" not in item
    [score] = client.get("/api/v1/scores", headers=reader,
                         query_string={"metric": "aes", "group_by": "agent,team,task"}).json["items"]
    assert (score["agent"], score["team"], score["task"], score["n"]) == (None, "t-1", "refund", 1)
    if interaction:  # the invitation knows it was answered, not what
        assert _agent_invitations(app) == [("answered", "agent", "a-7")]


def make_reader(client, admin) -> dict:
    """A reports:read key made through the app's own key function."""
    from survey_service.auth import create_key

    with client.application.app_context():
        _, clear = create_key("reader", ["reports:read"])
        db.session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_a_scheduled_invitation_to_the_agent_is_opened_and_answered(app, client, call, agent_key):
    """Invitations made ahead (delayed, for the shift digest) are the ones an answer goes through."""
    call("c-1")
    with app.app_context():
        survey_id = effort.effort_survey().id
        inter = db.session.scalar(select(Interaction).where(Interaction.external_id == "c-1"))
        db.session.add(Invitation(interaction_id=inter.id, survey_id=survey_id, channel="agent",
                                  address="a-7", status="scheduled", due_at=utcnow() + timedelta(hours=2)))
        db.session.commit()
    res = client.post(URL, headers=agent_key("a-7"),
                      json={"source": "pbx", "interaction_external_id": "c-1", "score": 1})
    assert res.status_code == 201, res.json
    assert _agent_invitations(app) == [("answered", "agent", "a-7")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)
                                 .where(Invitation.survey_id == survey_id)) == 1


def test_an_expired_invitation_takes_no_answer(app, client, call, agent_key):
    call("c-1")
    with app.app_context():
        survey = effort.effort_survey()
        inter = db.session.scalar(select(Interaction).where(Interaction.external_id == "c-1"))
        db.session.add(Invitation(interaction_id=inter.id, survey_id=survey.id, channel="agent",
                                  address="a-7", status="expired"))
        db.session.commit()
    res = client.post(URL, headers=agent_key("a-7"),
                      json={"source": "pbx", "interaction_external_id": "c-1", "score": 1})
    assert res.status_code == 410 and _responses(app) == []
