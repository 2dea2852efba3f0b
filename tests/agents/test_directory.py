"""The agent directory: intake adds agents and fills only what is empty; admins put and read them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from survey_service.agents.models import Agent
from survey_service.auth import create_key
from survey_service.extensions import db
from tests.conftest import interaction


def _agents(app) -> dict:
    with app.app_context():
        return {a.id: (a.name, a.team) for a in db.session.scalars(select(Agent))}


def test_intake_adds_an_unknown_agent_and_fills_only_empty_fields(app, client, admin, call):
    call("c-1", agent="a-1", name=None, team=None)
    assert _agents(app) == {"a-1": (None, None)}
    call("c-2", agent="a-1", name="Li Na", team=None)
    call("c-3", agent="a-1", name="Someone Else", team="t-9")
    assert _agents(app) == {"a-1": ("Li Na", "t-9")}  # filled once, then kept
    call("c-4", agent="a-2", name="Zhao Lei", team="t-2")
    assert _agents(app)["a-2"] == ("Zhao Lei", "t-2")


def test_intake_never_overwrites_what_an_admin_put(app, client, admin, call):
    res = client.put("/api/v1/agents/a-7", headers=admin,
                     json={"name": "Wang Fang (lead)", "team": "escalations",
                           "email": "Wang.Fang@Example.com", "locale": "zh-hans",
                           "timezone": "Asia/Shanghai"})
    assert res.status_code == 201, res.json
    assert res.json["email"] == "Wang.Fang@example.com" and res.json["locale"] == "zh-Hans"
    assert res.json["active"] is True
    call("c-1", agent="a-7", name="Wang Fang", team="t-1")
    assert _agents(app) == {"a-7": ("Wang Fang (lead)", "escalations")}
    got = client.get("/api/v1/agents/a-7", headers=admin).json
    assert got["email"] == "Wang.Fang@example.com" and got["timezone"] == "Asia/Shanghai"


def test_a_refused_replay_adds_no_agent(app, client, admin, call):
    call("c-1", agent="a-1")
    body = interaction(external_id="c-1", agent={"id": "a-other", "name": "X", "team": "t"})
    assert client.post("/api/v1/interactions", json=body, headers=admin).status_code == 409
    assert set(_agents(app)) == {"a-1"}


def test_put_replaces_and_list_filters(client, admin, make_key):
    assert client.put("/api/v1/agents/a-1", headers=admin, json={"team": "red"}).status_code == 201
    res = client.put("/api/v1/agents/a-2", headers=admin, json={"team": "red", "active": False})
    assert res.status_code == 201
    res = client.put("/api/v1/agents/a-1", headers=admin, json={"name": "Ann"})
    assert res.status_code == 200 and res.json["team"] is None and res.json["name"] == "Ann"
    reader = make_key("reports:read")

    def ids(query: str = "") -> list[str]:
        return [a["id"] for a in client.get(f"/api/v1/agents{query}", headers=reader).json["items"]]

    assert ids() == ["a-1", "a-2"]
    assert ids("?team=red") == ["a-2"]
    assert ids("?active=false") == ["a-2"]
    assert client.put("/api/v1/agents/a-3", headers=reader, json={}).status_code == 403
    assert client.get("/api/v1/agents", headers=make_key("interactions:write")).status_code == 403
    assert client.get("/api/v1/agents/nobody", headers=admin).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-address"}, "email"), ({"locale": "xx-!!"}, "locale"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"active": "perhaps"}, "active"),
    ({"name": "x" * 201}, "name"), ({"colour": "blue"}, "colour"),
])
def test_put_refuses_bad_fields_by_name(client, admin, body, field):
    res = client.put("/api/v1/agents/a-1", headers=admin, json=body)
    assert res.status_code == 422 and field in res.json["errors"]["json"]
    assert client.get("/api/v1/agents/a-1", headers=admin).status_code == 404


def test_create_key_refuses_an_agent_id_without_the_agent_scope(app):
    with app.app_context(), pytest.raises(ValueError, match="--agent"):
        create_key("x", ["reports:read"], agent_id="a-7")
