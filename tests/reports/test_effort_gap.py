"""GET /api/v1/reports/effort-gap: the agent's AES beside the customer's CES and CSAT, worked by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from survey_service.db import utcnow
from tests.conftest import interaction, mark_sent

URL = "/api/v1/reports/effort-gap"


@pytest.fixture
def gap_data(app, client, admin, seeded, make_key):
    """Six interactions, answered on one side, both, or anonymously; one ended before the range.

    | interaction | team | queue   | agent says (AES, task) | customer says   |
    | c-1 (call)  | red  | billing | 2, refund              | CSAT 5          |
    | c-2 (call)  | red  | billing | 4, refund              | CSAT 2          |
    | c-3 (call)  | red  | billing | 1, refund              | -               |
    | c-4 (chat)  | blue | billing | -                      | CES 6           |
    | c-5 (call)  | blue | returns | 5, refund, anonymous   | CSAT 4, anonymous |
    | c-6 (call)  | red  | billing | 5, refund (ended 2 days ago) | CSAT 1     |
    """
    agent_keys = {a: make_key("agent", agent_id=a) for a in ("a-1", "a-2")}

    def report(external_id, kind, agent, team, queue, days_ago=0):
        body = interaction(external_id=external_id, type=kind, queue=queue,
                           agent={"id": agent, "name": agent, "team": team},
                           ended_at=(utcnow() - timedelta(days=days_ago, minutes=10)).isoformat())
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        return res.json["invitations"][0]["id"]

    def customer(inv_id, score, anonymous=False):
        token = mark_sent(app, inv_id)
        res = client.post("/api/v1/answers", json={"token": token, "score": score, "anonymous": anonymous})
        assert res.status_code == 201, res.json

    def agent(agent_id, external_id, score, anonymous=False):
        res = client.post("/api/v1/agent-effort", headers=agent_keys[agent_id],
                          json={"source": "pbx", "interaction_external_id": external_id, "score": score,
                                "task": "refund", "anonymous": anonymous})
        assert res.status_code == 201, res.json

    customer(report("c-1", "call", "a-1", "red", "billing"), 5)
    agent("a-1", "c-1", 2)
    customer(report("c-2", "call", "a-1", "red", "billing"), 2)
    agent("a-1", "c-2", 4)
    report("c-3", "call", "a-1", "red", "billing")
    agent("a-1", "c-3", 1)
    customer(report("c-4", "chat", "a-2", "blue", "billing"), 6)
    customer(report("c-5", "call", "a-2", "blue", "returns"), 4, anonymous=True)
    agent("a-2", "c-5", 5, anonymous=True)
    customer(report("c-6", "call", "a-1", "red", "billing", days_ago=2), 1)
    agent("a-1", "c-6", 5)
    return {"from": (utcnow() - timedelta(days=1)).isoformat(),
            "to": (utcnow() + timedelta(hours=1)).isoformat()}


EMPTY = {"n": 0, "score": None, "ci95": None, "small_sample": True}


def test_by_team_and_task_by_hand(client, make_key, gap_data):
    res = client.get(URL, headers=make_key("reports:read"),
                     query_string={**gap_data, "group_by": "team,task"})
    assert res.status_code == 200, res.json
    assert res.json["items"] == [
        # c-4 only: the customer's side; no agent answer, so no task and nothing paired
        {"team": "blue", "task": None, "interactions": 0, "aes": EMPTY, "csat": EMPTY,
         "ces": {"n": 1, "score": 6.0, "ci95": None, "small_sample": True}},
        # c-1, c-2 paired; c-3 only the agent's. AES mean (2+4+1)/3; CSAT 1 of 2 at 4 or more.
        {"team": "red", "task": "refund", "interactions": 2,
         "aes": {"n": 3, "score": 2.33, "ci95": [1.0, 5.0], "small_sample": True},
         "csat": {"n": 2, "score": 50.0, "ci95": [9.5, 90.5], "small_sample": True}, "ces": EMPTY},
    ]


def test_without_groups_and_by_queue(client, make_key, gap_data):
    reader = make_key("reports:read")
    [row] = client.get(URL, headers=reader, query_string=gap_data).json["items"]
    assert (row["interactions"], row["aes"]["n"], row["csat"]["n"], row["ces"]["n"]) == (2, 3, 2, 1)
    rows = client.get(URL, headers=reader, query_string={**gap_data, "group_by": "queue"}).json["items"]
    assert [(r["queue"], r["interactions"], r["aes"]["n"]) for r in rows] == [("billing", 2, 3)]
    # without a range, c-6 (ended two days ago) pairs too
    [row] = client.get(URL, headers=reader).json["items"]
    assert (row["interactions"], row["aes"]["n"], row["csat"]["n"]) == (3, 4, 3)


def test_the_survey_filter_keeps_one_customer_survey(client, make_key, gap_data):
    reader = make_key("reports:read")
    [row] = client.get(URL, headers=reader, query_string={**gap_data, "survey": "ces-chat"}).json["items"]
    assert (row["interactions"], row["aes"]["n"], row["csat"]["n"], row["ces"]["n"]) == (0, 3, 0, 1)
    assert client.get(URL, headers=reader, query_string={"survey": "nope"}).status_code == 404
    res = client.get(URL, headers=reader, query_string={"survey": "aes-agent"})
    assert res.status_code == 422 and "survey" in res.json["errors"]["query"]


@pytest.mark.parametrize("query, field", [({"group_by": "agent"}, "group_by"),
                                          ({"from": "yesterday"}, "from"), ({"colour": "red"}, "colour")])
def test_bad_queries_are_422_naming_the_field(client, make_key, query, field):
    res = client.get(URL, headers=make_key("reports:read"), query_string=query)
    assert res.status_code == 422 and field in res.json["errors"]["query"]


def test_scopes(client, make_key):
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=make_key("interactions:write")).status_code == 403
    assert client.get(URL, headers=make_key("agent", agent_id="a-1")).status_code == 403
