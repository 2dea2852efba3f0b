"""Surveys API: defaults, validation naming the field, patch semantics, auth."""

from __future__ import annotations

import pytest

URL = "/api/v1/surveys"


def test_fresh_database_has_four_default_surveys(client, admin, seeded):
    res = client.get(URL, headers=admin)
    assert res.status_code == 200
    assert [s["key"] for s in res.json["items"]] == ["csat-call", "ces-chat", "csat-purchase",
                                                      "aes-agent"]
    csat = client.get(f"{URL}/csat-call", headers=admin).json
    assert csat["scale"] == {"min": 1, "max": 5} and csat["positive_min"] == 4
    assert csat["channels"] == ["sms", "ivr", "email"]
    purchase = client.get(f"{URL}/csat-purchase", headers=admin).json
    assert purchase["incentive"]["reward"] == "10% off your next order"


def test_create_with_only_required_fields_fills_defaults(client, admin):
    res = client.post(URL, json={"key": "nps-web", "metric": "nps", "scale": {"min": 0, "max": 10}},
                      headers=admin)
    assert res.status_code == 201, res.json
    body = res.json
    assert body["anonymity"] == "optional"
    assert body["timezone"] == "UTC"
    assert body["delay_seconds"] == 300
    assert body["positive_min"] is None


@pytest.mark.parametrize(("scale", "expected"), [((1, 5), 4), ((0, 1), 1), ((1, 3), 2), ((1, 10), 8)])
def test_csat_default_threshold_follows_scale(client, admin, scale, expected):
    res = client.post(URL, json={"key": f"c{scale[1]}", "metric": "csat",
                                 "scale": {"min": scale[0], "max": scale[1]}}, headers=admin)
    assert res.json["positive_min"] == expected


def test_three_label_chinese_scale_round_trips(client, admin):
    labels = {"1": "不满意", "2": "有些满意", "3": "非常满意"}
    res = client.post(URL, json={"key": "csat-3", "metric": "csat", "scale": {"min": 1, "max": 3},
                                 "texts": {"zh-Hans": {"question": "满意吗？", "labels": labels}}},
                      headers=admin)
    assert res.status_code == 201
    assert res.json["texts"]["zh-Hans"]["labels"] == labels


BAD = [
    ("positive_min", {"positive_min": 6}),
    ("scale", {"scale": {"min": 5, "max": 1}}),
    ("metric", {"metric": "wow"}),
    ("key", {"key": "Bad Key"}),
    ("channels", {"channels": ["fax"]}),
    ("channels", {"channels": ["sms", "sms"]}),
    ("timezone", {"timezone": "Nowhere/City"}),
    ("quiet_hours", {"quiet_hours": {"start": "25:00", "end": "08:00"}}),
    ("sample_rate", {"sample_rate": 1.5}),
    ("anonymity", {"anonymity": "sometimes"}),
    ("texts", {"texts": {"en": {"labels": {"9": "Nine"}}}}),
    ("texts", {"texts": {"xx-Fake": {"question": "?"}}}),
    ("interaction_types", {"interaction_types": ["fax"]}),
    ("expires_after_seconds", {"expires_after_seconds": 0}),
    ("incentive", {"incentive": {"reward": "x"}}),
]


@pytest.mark.parametrize(("field", "change"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_invalid_survey_is_422_naming_field_and_not_stored(client, admin, field, change):
    body = {"key": "s1", "metric": "csat", "scale": {"min": 1, "max": 5}, **change}
    res = client.post(URL, json=body, headers=admin)
    assert res.status_code == 422, res.json
    assert field in res.json["errors"]["json"]
    assert client.get(f"{URL}/{body['key']}", headers=admin).status_code in (404, 200)
    assert all(s["key"] != "s1" for s in client.get(URL, headers=admin).json["items"])


def test_nps_must_use_0_to_10(client, admin):
    res = client.post(URL, json={"key": "n", "metric": "nps", "scale": {"min": 1, "max": 5}},
                      headers=admin)
    assert res.status_code == 422 and "scale" in res.json["errors"]["json"]


def test_duplicate_key_is_409(client, admin, seeded):
    res = client.post(URL, json={"key": "csat-call", "metric": "csat", "scale": {"min": 1, "max": 5}},
                      headers=admin)
    assert res.status_code == 409


def test_patch_changes_only_named_fields(client, admin, seeded):
    res = client.patch(f"{URL}/csat-call", json={"delay_seconds": 0, "quiet_hours": None},
                       headers=admin)
    assert res.status_code == 200, res.json
    assert res.json["delay_seconds"] == 0 and res.json["quiet_hours"] is None
    assert res.json["channels"] == ["sms", "ivr", "email"]
    assert res.json["positive_min"] == 4


def test_patch_that_breaks_the_survey_is_422_and_changes_nothing(client, admin, seeded):
    res = client.patch(f"{URL}/csat-call", json={"positive_min": 9}, headers=admin)
    assert res.status_code == 422 and "positive_min" in res.json["errors"]["json"]
    assert client.get(f"{URL}/csat-call", headers=admin).json["positive_min"] == 4


def test_patch_cannot_change_key_and_unknown_is_404(client, admin, seeded):
    assert client.patch(f"{URL}/csat-call", json={"key": "x"}, headers=admin).status_code == 422
    assert client.patch(f"{URL}/nope", json={"active": False}, headers=admin).status_code == 404
    assert client.get(f"{URL}/nope", headers=admin).status_code == 404


def test_surveys_need_admin(client, make_key):
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=make_key("interactions:write")).status_code == 403
