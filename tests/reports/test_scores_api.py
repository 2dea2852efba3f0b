"""GET /api/v1/scores: auth, a 422 naming each bad field, groups, buckets in the caller's zone, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

URL = "/api/v1/scores"
SHANGHAI_MIDNIGHT = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01T00:00+08:00


def get(client, headers, **query):
    return client.get(URL, query_string=query, headers=headers)


def test_needs_a_key(client):
    res = get(client, {}, metric="csat")
    assert res.status_code == 401
    assert res.json["code"] == 401


def test_needs_the_reports_scope(client, make_key):
    res = get(client, make_key("interactions:write"), metric="csat")
    assert res.status_code == 403


def test_admin_may_read_scores(client, admin):
    res = get(client, admin, metric="csat")
    assert res.status_code == 200
    assert res.json == {"items": []}


BAD = [
    ("metric", {}),
    ("metric", {"metric": "wow"}),
    ("from", {"metric": "csat", "from": "2026-11-01T00:00:00"}),
    ("to", {"metric": "csat", "to": "2026-11-01T00:00:00"}),
    ("from", {"metric": "csat", "from": "2026-11-02T00:00:00+00:00", "to": "2026-11-01T00:00:00+00:00"}),
    ("from", {"metric": "csat", "from": "2026-11-01T00:00:00+00:00", "to": "2026-11-01T00:00:00+00:00"}),
    ("group_by", {"metric": "csat", "group_by": "agent,planet"}),
    ("bucket", {"metric": "csat", "bucket": "year"}),
    ("tz", {"metric": "csat", "tz": "Nowhere/City"}),
    ("colour", {"metric": "csat", "colour": "blue"}),
]


@pytest.mark.parametrize(("field", "query"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_query_gets_422_naming_the_field(client, reader, field, query):
    res = get(client, reader, **query)
    assert res.status_code == 422, res.json
    assert list(res.json["errors"]["query"]) == [field]


def test_unknown_group_is_named_in_the_message(client, reader):
    res = get(client, reader, metric="csat", group_by="agent,planet")
    assert "planet" in str(res.json["errors"]["query"]["group_by"])


def test_one_row_without_groups_has_exactly_the_score_fields(client, reader, answers):
    answers("csat-call", [5, 5, 5, 5, 4, 4, 4, 3, 2, 1], SHANGHAI_MIDNIGHT)
    res = get(client, reader, metric="csat")
    assert res.status_code == 200, res.json
    # 7 of 10 at 4 or 5: centre = 0.892073 / 1.384146 = 0.644493, half = 1.959964 * 0.174939 / 1.384146
    # = 0.247714 -> [39.7, 89.2]
    assert res.json["items"] == [{
        "n": 10, "score": 70.0, "ci95": [39.7, 89.2], "small_sample": True, "mean": 3.8,
        "distribution": {"1": 1, "2": 1, "3": 1, "4": 3, "5": 4},
    }]


def test_agent_by_day_in_shanghai(client, reader, answers):
    before = SHANGHAI_MIDNIGHT - timedelta(hours=1)  # 23:00 on 31 October in Shanghai
    after = SHANGHAI_MIDNIGHT + timedelta(hours=1)   # 01:00 on 1 November in Shanghai
    answers("csat-call", [5, 4], before, agent_id="a-9")
    answers("csat-call", [5, 3], after, agent_id="a-7")
    answers("csat-call", [2], before, agent_id="a-7")
    res = get(client, reader, metric="csat", group_by="agent", bucket="day", tz="Asia/Shanghai")
    assert res.status_code == 200, res.json
    rows = [(r["agent"], r["bucket"], r["n"], r["score"]) for r in res.json["items"]]
    assert rows == [
        ("a-7", "2026-10-31T00:00:00+08:00", 1, 0.0),
        ("a-7", "2026-11-01T00:00:00+08:00", 2, 50.0),
        ("a-9", "2026-10-31T00:00:00+08:00", 2, 100.0),
    ]
    assert set(res.json["items"][0]) == {"agent", "bucket", "n", "score", "ci95", "small_sample", "mean",
                                         "distribution"}


def test_same_answers_in_utc_fall_in_one_day(client, reader, answers):
    answers("csat-call", [5], SHANGHAI_MIDNIGHT - timedelta(hours=1))
    answers("csat-call", [4], SHANGHAI_MIDNIGHT + timedelta(hours=1))
    res = get(client, reader, metric="csat", bucket="day")
    assert [(r["bucket"], r["n"]) for r in res.json["items"]] == [("2026-10-31T00:00:00+00:00", 2)]


def test_week_and_month_buckets(client, reader, answers):
    answers("csat-call", [5], datetime(2026, 11, 4, 12, tzinfo=UTC))  # a Wednesday
    answers("csat-call", [4], datetime(2026, 11, 1, 12, tzinfo=UTC))  # a Sunday
    weeks = get(client, reader, metric="csat", bucket="week", tz="Europe/Paris").json["items"]
    assert [(r["bucket"], r["n"]) for r in weeks] == [("2026-10-26T00:00:00+01:00", 1),
                                                      ("2026-11-02T00:00:00+01:00", 1)]
    months = get(client, reader, metric="csat", bucket="month", tz="Europe/Paris").json["items"]
    assert [(r["bucket"], r["n"]) for r in months] == [("2026-11-01T00:00:00+01:00", 2)]


def test_range_is_from_inclusive_to_exclusive(client, reader, answers):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    answers("csat-call", [5], start)
    answers("csat-call", [1], start + timedelta(days=1))
    res = get(client, reader, metric="csat", **{"from": "2026-11-01T08:00:00+08:00",
                                                "to": "2026-11-02T08:00:00+08:00"})
    assert [(r["n"], r["distribution"]) for r in res.json["items"]] == [(1, {"5": 1})]


def test_survey_filter_and_group(client, reader, answers):
    at = SHANGHAI_MIDNIGHT
    answers("csat-call", [5, 5], at)
    answers("csat-purchase", [1], at, channel="email", interaction_type="purchase")
    only = get(client, reader, metric="csat", survey="csat-purchase").json["items"]
    assert [(r["n"], r["score"]) for r in only] == [(1, 0.0)]
    grouped = get(client, reader, metric="csat", group_by="survey,channel").json["items"]
    assert [(r["survey"], r["channel"], r["n"]) for r in grouped] == [("csat-call", "sms", 2),
                                                                      ("csat-purchase", "email", 1)]


def test_unknown_survey_is_404(client, reader, seeded):
    res = get(client, reader, metric="csat", survey="no-such")
    assert res.status_code == 404


def test_survey_of_another_metric_is_422_naming_survey(client, reader, seeded):
    res = get(client, reader, metric="csat", survey="ces-chat")
    assert res.status_code == 422
    assert list(res.json["errors"]["query"]) == ["survey"]


def test_metric_selects_its_answers_and_effort_rows_carry_pct_easy(client, reader, answers):
    answers("csat-call", [5], SHANGHAI_MIDNIGHT)
    answers("ces-chat", [7, 6, 5, 2], SHANGHAI_MIDNIGHT, channel="email", interaction_type="chat")
    answers("aes-agent", [1, 2, 4], SHANGHAI_MIDNIGHT, agent_id="a-7")
    ces = get(client, reader, metric="ces").json["items"]
    assert [(r["n"], r["score"], r["pct_easy"]) for r in ces] == [(4, 5.0, 75.0)]
    aes = get(client, reader, metric="aes", group_by="agent").json["items"]
    assert [(r["agent"], r["n"], r["score"], r["pct_easy"]) for r in aes] == [("a-7", 3, 2.33, 66.7)]


def test_answers_without_an_agent_group_under_null_last(client, reader, answers):
    answers("csat-call", [5], SHANGHAI_MIDNIGHT)
    answers("csat-call", [4], SHANGHAI_MIDNIGHT, agent_id="a-1")
    rows = get(client, reader, metric="csat", group_by="agent").json["items"]
    assert [(r["agent"], r["n"]) for r in rows] == [("a-1", 1), (None, 1)]


def test_nps_rows(client, reader, app, answers, admin):
    res = client.post("/api/v1/surveys", json={"key": "nps-web", "metric": "nps",
                                               "scale": {"min": 0, "max": 10}}, headers=admin)
    assert res.status_code == 201, res.json
    answers("nps-web", [10, 10, 10, 9, 9, 8, 7, 6, 5, 0], SHANGHAI_MIDNIGHT)
    rows = get(client, reader, metric="nps").json["items"]
    assert [(r["n"], r["score"], r["ci95"]) for r in rows] == [(10, 20.0, [-34.0, 74.0])]


def test_one_row_merges_surveys_with_their_own_thresholds(client, reader, answers, admin):
    res = client.post("/api/v1/surveys", json={"key": "csat-ten", "metric": "csat",
                                               "scale": {"min": 1, "max": 10}}, headers=admin)
    assert res.json["positive_min"] == 8
    answers("csat-call", [4, 3], SHANGHAI_MIDNIGHT)  # 4 is positive on 1-5
    answers("csat-ten", [7, 8], SHANGHAI_MIDNIGHT)   # 8 is positive on 1-10, 7 is not
    rows = get(client, reader, metric="csat").json["items"]
    assert [(r["n"], r["score"], r["distribution"]) for r in rows] == \
        [(4, 50.0, {"3": 1, "4": 1, "7": 1, "8": 1})]
