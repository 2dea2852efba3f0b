"""Agents' fixtures: calls handled by agents, and keys that belong to one agent."""

from __future__ import annotations

import pytest

from tests.conftest import interaction


@pytest.fixture
def call(client, admin, seeded):
    """Report a call handled by `agent` (default a-7 of team t-1); returns the intake body."""

    def make(external_id: str, agent: str = "a-7", team: str | None = "t-1", name: str | None = "Wang Fang",
             **overrides) -> dict:
        body = interaction(external_id=external_id, agent={"id": agent, "name": name, "team": team},
                           **overrides)
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        return res.json

    return make


@pytest.fixture
def agent_key(make_key):
    """Headers of an `agent` key of this agent id."""

    def make(agent_id: str = "a-7") -> dict:
        return make_key("agent", agent_id=agent_id)

    return make
