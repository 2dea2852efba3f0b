"""Hostile and careless input: a 4xx in the JSON error shape, naming what is wrong, and nothing written.

One test per class of input that once answered 500 (or wrote data before failing).
"""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.surveys.models import Survey
from tests.conftest import interaction

INTAKE = "/api/v1/interactions"


def counts(app) -> dict:
    """How many rows each table that input could reach holds now."""
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Interaction, Invitation, Response, Survey)}


def post_raw(client, path: str, body: str, headers: dict, method: str = "POST"):
    """Send `body` as written, lone surrogates included (as a JSON escape, the way a client would)."""
    data = body.encode("utf-8", "surrogatepass")
    return client.open(path, method=method, data=data,
                       headers={**headers, "Content-Type": "application/json"})


def refused(res, status: int, field: str | None = None) -> dict:
    """The JSON error shape with this status; when a field is given, errors name it."""
    assert res.status_code == status, res.get_data(as_text=True)
    body = res.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    if field is not None:
        assert field in json.dumps(body["errors"]), body
    return body


@pytest.mark.parametrize("body", ["[]", '"x"', "1", "null", "true", "[{}]"])
def test_json_that_is_not_an_object_is_422(client, admin, seeded, app, body):
    before = counts(app)
    for path in (INTAKE, f"{INTAKE}/batch", "/api/v1/surveys"):
        res = refused(post_raw(client, path, body, admin), 422, "_schema")
        assert "JSON object" in res["message"]
    assert counts(app) == before


def test_json_that_is_not_an_object_is_422_on_the_keyless_answer_endpoint(client, seeded, app):
    """The answer endpoint's rate limit reads the token from the body before anything else."""
    for body in ('"x"', "1", "[1]", "true"):
        refused(post_raw(client, "/api/v1/answers", body, {}), 422, "_schema")
    assert counts(app)["responses"] == 0


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    '{"external_id": ' + "1" * 5000 + "}",  # past Python's 4,300-digit limit for int()
    '{"score": NaN}', '{"score": Infinity}', "{not json",
])
def test_json_python_cannot_decode_is_400(client, admin, seeded, app, body):
    before = counts(app)
    for path, headers in ((INTAKE, admin), ("/api/v1/answers", {}), ("/api/v1/surveys", admin)):
        res = refused(post_raw(client, path, body, headers), 400)
        assert "not valid JSON" in res["message"]
    assert counts(app) == before


@pytest.mark.parametrize("char", ["\ud800", "\udfff", "\x00"])
@pytest.mark.parametrize(("place", "field"), [
    ({"external_id": "a{c}"}, "external_id"),
    ({"queue": "q{c}"}, "queue"),
    ({"customer": {"id": "c{c}"}}, "id"),
    ({"customer": {"timezone": "Asia/{c}"}}, "timezone"),
    ({"customer": {"locale": "zh{c}"}}, "locale"),
    ({"agent": {"name": "Wang{c}"}}, "name"),
    ({"order": {"id": "o{c}", "amount": 1, "currency": "CNY"}}, "id"),
    ({"attributes": {"campaign": "n{c}"}}, "campaign"),
    ({"attributes": {"k{c}": "v"}}, "attributes"),
])
def test_text_the_database_cannot_store_is_422_naming_the_field(client, admin, seeded, app, char,
                                                                 place, field):
    body = json.dumps(interaction(**place)).replace("{c}", json.dumps(char)[1:-1])
    before = counts(app)
    res = refused(post_raw(client, INTAKE, body, admin), 422, field)
    assert res["errors"]  # an answer that echoes the character is still valid JSON
    assert counts(app) == before


@pytest.mark.parametrize("changes", [
    {"name": "x\\u0000"}, {"texts": {"en": {"question": "q\\ud800"}}},
    {"texts": {"e\\ud800": {"question": "q"}}}, {"texts": {"en": {"labels": {"1": "\\u0000"}}}},
    {"timezone": "a\\ud800b"}, {"incentive": {"reward": "\\ud800", "window_seconds": 60}},
])
def test_survey_text_the_database_cannot_store_is_refused_and_the_survey_stays(client, admin, seeded,
                                                                                app, changes):
    before = client.get("/api/v1/surveys/csat-call", headers=admin).get_json()
    body = json.dumps(changes).replace("\\\\u", "\\u")
    refused(post_raw(client, "/api/v1/surveys/csat-call", body, admin, method="PATCH"), 422)
    assert client.get("/api/v1/surveys/csat-call", headers=admin).get_json() == before
    created = post_raw(client, "/api/v1/surveys", json.dumps(
        {"key": "new-one", "metric": "csat", "scale": {"min": 1, "max": 5}, **changes})
        .replace("\\\\u", "\\u"), admin)
    refused(created, 422)
    assert client.get("/api/v1/surveys", headers=admin).status_code == 200
    assert counts(app)["surveys"] == 4


@pytest.mark.parametrize("token", ["a\\ud800b", "a\\u0000b"])
def test_an_answer_token_the_database_cannot_store_is_422(client, seeded, app, token):
    res = post_raw(client, "/api/v1/answers", '{"token": "' + token + '", "score": 3}', {})
    refused(res, 422, "token")


@pytest.mark.parametrize("path", [
    "/api/v1/surveys/%00", "/api/v1/interactions/pbx/%00", "/api/v1/interactions/%00/x",
    "/s/%00", "/twilio/voice/transfer/pbx/%00",
])
def test_nul_in_a_route_segment_is_404(client, admin, seeded, path):
    res = client.get(path, headers=admin) if "/twilio/" not in path else client.post(path)
    assert res.status_code == 404


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_that_overflows_utc_is_422(client, admin, seeded, app, when):
    before = counts(app)
    res = refused(client.post(INTAKE, headers=admin, json=interaction(ended_at=when)), 422, "ended_at")
    assert "years 1 to 9999" in json.dumps(res["errors"])
    for name in ("from", "to"):
        res = client.get("/api/v1/scores", headers=admin, query_string={"metric": "csat", name: when})
        refused(res, 422, name)
    assert counts(app) == before


def test_a_time_without_offset_is_refused_saying_to_add_one(client, admin, seeded, app):
    res = client.post(INTAKE, headers=admin, json=interaction(ended_at="2026-11-01T09:30:00"))
    body = refused(res, 422, "ended_at")
    assert "Add the UTC offset" in body["errors"]["json"]["ended_at"][0]
    res = client.get("/api/v1/scores", headers=admin,
                     query_string={"metric": "csat", "from": "2026-11-01T00:00:00"})
    assert "Add the UTC offset" in refused(res, 422, "from")["errors"]["query"]["from"][0]


@pytest.mark.parametrize("score", [10**30, 2**31, -(2**31) - 1, 101])
def test_a_huge_score_is_422_naming_score(client, sent, app, score):
    token, _ = sent()
    res = client.post("/api/v1/answers", json={"token": token, "score": score})
    refused(res, 422, "score")
    assert counts(app)["responses"] == 0


@pytest.mark.parametrize("amount", ["1_000", "١٢", "1e3", " 5", "NaN"])
def test_an_amount_in_an_odd_spelling_is_422(client, admin, seeded, app, amount):
    body = interaction(order={"id": "o-1", "amount": amount, "currency": "CNY"})
    refused(client.post(INTAKE, headers=admin, json=body), 422, "amount")
    assert counts(app)["interactions"] == 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"scale": {"min": 2}}, "max"), ({"scale": {"max": 9}}, "min"),
    ({"quiet_hours": {"start": "22:00"}}, "end"), ({"reminder": {}}, "after_seconds"),
    ({"incentive": {}}, "reward"),
])
def test_patch_with_a_partial_nested_object_is_422_naming_what_it_lacks(client, admin, seeded,
                                                                         changes, field):
    before = client.get("/api/v1/surveys/csat-call", headers=admin).get_json()
    refused(client.patch("/api/v1/surveys/csat-call", headers=admin, json=changes), 422, field)
    assert client.get("/api/v1/surveys/csat-call", headers=admin).get_json() == before


@pytest.mark.parametrize("body", ['{"scale": {"min": 2}}', '{"scale": 5}', "[]", "{bad"])
def test_patch_of_an_unknown_survey_is_404_whatever_the_body(client, admin, seeded, body):
    refused(post_raw(client, "/api/v1/surveys/no-such", body, admin, method="PATCH"), 404)


def test_a_batch_reports_every_item_and_keeps_the_good_ones(client, admin, seeded, app):
    items = [interaction(external_id="ok-1"), None, 5, "x", [],
             json.loads(json.dumps(interaction(external_id="bad\x00"))),
             interaction(external_id="late", ended_at="0001-01-01T00:00:00+14:00"),
             interaction(external_id="ok-2")]
    res = client.post(f"{INTAKE}/batch", headers=admin, json={"items": items})
    assert res.status_code == 200, res.json
    statuses = [(r["index"], r["status"]) for r in res.json["items"]]
    assert statuses == [(0, 201), (1, 422), (2, 422), (3, 422), (4, 422), (5, 422), (6, 422),
                        (7, 201)]
    assert "JSON object" in res.json["items"][1]["body"]["message"]
    assert "external_id" in res.json["items"][5]["body"]["errors"]["json"]
    assert counts(app)["interactions"] == 2


def test_a_batch_item_the_database_refuses_costs_only_that_item(client, admin, seeded, app,
                                                                 monkeypatch):
    from survey_service.interactions import service

    real = service.record_interaction

    def failing(data):
        if data["external_id"] == "boom":
            raise RuntimeError("the database went away")
        return real(data)

    monkeypatch.setattr(service, "record_interaction", failing)
    items = [interaction(external_id=e) for e in ("ok-1", "boom", "ok-2")]
    res = client.post(f"{INTAKE}/batch", headers=admin, json={"items": items})
    assert res.status_code == 200
    assert [r["status"] for r in res.json["items"]] == [201, 500, 201]
    assert "the others were" in res.json["items"][1]["body"]["message"]
    assert counts(app)["interactions"] == 2


def test_a_chunked_body_over_the_limit_is_413(client, admin, seeded, app):
    big = b'{"external_id": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}'
    res = client.post(INTAKE, input_stream=io.BytesIO(big),
                      headers={**admin, "Content-Type": "application/json",
                               "Transfer-Encoding": "chunked"},
                      environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    refused(res, 413)
    small = json.dumps(interaction()).encode()
    res = client.post(INTAKE, input_stream=io.BytesIO(small),
                      headers={**admin, "Content-Type": "application/json",
                               "Transfer-Encoding": "chunked"},
                      environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert res.status_code == 201, res.json  # a chunked body within the limit is read whole


def test_a_body_with_content_length_over_the_limit_is_413(client, admin, seeded, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    refused(client.post(INTAKE, headers=admin, data=big, content_type="application/json"), 413)
    assert counts(app)["interactions"] == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "multipart/form-data; boundary=x"])
def test_a_json_endpoint_sent_another_content_type_is_415(client, admin, seeded, app, content_type):
    res = client.post(INTAKE, headers=admin, data=json.dumps(interaction()), content_type=content_type)
    assert "Content-Type: application/json" in refused(res, 415)["message"]
    assert counts(app)["interactions"] == 0


def test_a_401_names_the_bearer_scheme(client, seeded):
    for headers in ({}, {"Authorization": "Bearer sk_wrong"}, {"Authorization": "Basic eDp5"}):
        res = client.get("/api/v1/surveys", headers=headers)
        refused(res, 401)
        assert res.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_429_says_which_limit_and_when_to_retry(client, seeded, app):
    limit = app.config["ANSWER_RATE_LIMIT_TOKEN"]
    res = None
    for _ in range(int(limit.split()[0]) + 1):
        res = client.post("/api/v1/answers", json={"token": "t" * 43, "score": 3})
    body = refused(res, 429)
    seconds = int(res.headers["Retry-After"])
    assert 0 < seconds <= 60
    assert "10 per 1 minute" in body["message"] and f"{seconds} seconds" in body["message"]


def test_a_422_message_names_the_fields(client, admin, seeded):
    res = client.post(INTAKE, headers=admin,
                      json=interaction(queue="", order={"amount": -1, "currency": "CNY"}))
    message = refused(res, 422)["message"]
    assert "queue" in message and "order.amount" in message


def test_a_reason_with_nul_from_the_web_form_is_stored_without_it(client, sent, app):
    from tests.answers.test_web import csrf_of

    token, _ = sent()
    page = client.get(f"/s/{token}")
    res = client.post(f"/s/{token}", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "score": "4",
                                           "reason": "fast\x00 and kind"})
    assert res.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Response.reason)) == "fast and kind"


def test_an_external_id_with_a_slash_is_found_by_its_encoded_path(client, admin, seeded):
    assert client.post(INTAKE, headers=admin, json=interaction(external_id="call/1")).status_code == 201
    res = client.get(f"{INTAKE}/pbx/call%2F1", headers=admin)
    assert res.status_code == 200 and res.json["interaction"]["external_id"] == "call/1"


def test_retry_after_comes_only_with_a_429(client, sent):
    token, _ = sent()
    page = client.get(f"/s/{token}")
    assert page.status_code == 200 and "X-RateLimit-Limit" in page.headers
    assert "Retry-After" not in page.headers
    answered = client.post("/api/v1/answers", json={"token": token, "score": 4})
    assert answered.status_code == 201 and "Retry-After" not in answered.headers
