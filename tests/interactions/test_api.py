"""Intake API: statuses, validation per field, idempotent replays, invitation planning."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from tests.conftest import interaction

URL = "/api/v1/interactions"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_call_with_phone_gets_sms_invitation_due_after_delay(client, admin, seeded):
    body = interaction()
    res = client.post(URL, json=body, headers=admin)
    assert res.status_code == 201, res.json
    [inv] = res.json["invitations"]
    assert inv["survey"] == "csat-call"
    assert inv["channel"] == "sms"
    assert inv["status"] == "scheduled"
    assert inv["suppressed_reason"] is None
    assert res.json["interaction"]["customer"]["phone"] == "+8613800138000"


def test_replay_returns_first_body_with_200(client, admin, seeded):
    body = interaction()
    first = client.post(URL, json=body, headers=admin)
    again = client.post(URL, json=body, headers=admin)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json == first.json


def test_replay_with_same_data_in_other_formatting_is_not_a_conflict(client, admin, seeded):
    body = interaction()
    client.post(URL, json=body, headers=admin)
    reformatted = {**body, "customer": {**body["customer"], "phone": "+86 138 0013 8000"}}
    assert client.post(URL, json=reformatted, headers=admin).status_code == 200


def test_same_id_different_body_is_409_and_changes_nothing(client, admin, seeded, app):
    body = interaction()
    client.post(URL, json=body, headers=admin)
    res = client.post(URL, json={**body, "queue": "sales"}, headers=admin)
    assert res.status_code == 409
    assert res.json["code"] == 409 and "external_id" in res.json["message"]
    assert count(app, Interaction) == 1


def test_get_shows_current_status(client, admin, seeded, app):
    created = client.post(URL, json=interaction(), headers=admin).json
    with app.app_context():
        inv = db.session.get(Invitation, created["invitations"][0]["id"])
        inv.status = "sent"
        db.session.commit()
    res = client.get(f"{URL}/pbx/call-1", headers=admin)
    assert res.status_code == 200
    assert res.json["invitations"][0]["status"] == "sent"
    assert res.json["interaction"] == created["interaction"]


def test_get_unknown_is_404(client, admin):
    res = client.get(f"{URL}/pbx/nope", headers=admin)
    assert res.status_code == 404
    assert set(res.json) >= {"code", "status", "message"}


def test_no_key_is_401_and_wrong_scope_is_403(client, make_key, seeded):
    assert client.post(URL, json=interaction()).status_code == 401
    assert client.post(URL, json=interaction(),
                       headers={"Authorization": "Bearer sk_wrong"}).status_code == 401
    reader = make_key("reports:read")
    assert client.post(URL, json=interaction(), headers=reader).status_code == 403


def test_a_reports_key_cannot_read_an_interactions_contact_details(client, admin, make_key, seeded):
    assert client.post(URL, json=interaction(), headers=admin).status_code == 201
    res = client.get(f"{URL}/pbx/call-1", headers=make_key("reports:read"))
    assert res.status_code == 403 and "interactions:write" in res.json["message"]
    writer = client.get(f"{URL}/pbx/call-1", headers=make_key("interactions:write"))
    assert writer.status_code == 200 and writer.json["interaction"]["customer"]["phone"]


def test_revoked_key_is_401(client, app, seeded):
    from survey_service.auth import create_key, revoke_key

    with app.app_context():
        row, clear = create_key("temp", ["interactions:write"])
        db.session.commit()
        revoke_key(row.id)
        db.session.commit()
    res = client.post(URL, json=interaction(), headers={"Authorization": f"Bearer {clear}"})
    assert res.status_code == 401


BAD_FIELDS = [
    ("external_id", {"external_id": ""}, ["external_id"]),
    ("source", {"source": "has space"}, ["source"]),
    ("type", {"type": "fax"}, ["type"]),
    ("ended_at naive", {"ended_at": "2026-11-01T10:00:00"}, ["ended_at"]),
    ("ended_at garbage", {"ended_at": "yesterday"}, ["ended_at"]),
    ("ended_at future", {"ended_at": "2099-01-01T00:00:00+00:00"}, ["ended_at"]),
    ("phone", {"customer": {"phone": "+1 555"}}, ["customer", "phone"]),
    ("email", {"customer": {"email": "not-an-email"}}, ["customer", "email"]),
    ("timezone", {"customer": {"timezone": "Mars/Olympus"}}, ["customer", "timezone"]),
    ("locale", {"customer": {"locale": "xx-Nope"}}, ["customer", "locale"]),
    ("currency", {"order": {"id": "o1", "amount": "10.00", "currency": "ABC"}}, ["order", "currency"]),
    ("amount", {"order": {"amount": "-1", "currency": "CNY"}}, ["order", "amount"]),
    ("attributes count", {"attributes": {f"k{i}": "v" for i in range(51)}}, ["attributes"]),
    ("attributes size", {"attributes": {"note": "x" * 1025}}, ["attributes"]),
    ("attributes type", {"attributes": {"n": 5}}, ["attributes"]),
    ("unknown field", {"surprise": 1}, ["surprise"]),
    ("missing source", {"source": None}, ["source"]),
]


@pytest.mark.parametrize(("label", "change", "path"), BAD_FIELDS, ids=[b[0] for b in BAD_FIELDS])
def test_bad_field_is_422_naming_it_and_writes_nothing(client, admin, seeded, app, label, change, path):
    body = interaction()
    body.update(change)
    if change.get("source", "") is None:
        del body["source"]
    res = client.post(URL, json=body, headers=admin)
    assert res.status_code == 422, res.json
    errors = res.json["errors"]["json"]
    for key in path:
        assert key in errors, (label, errors)
        errors = errors[key]
    assert count(app, Interaction) == 0
    assert count(app, Invitation) == 0


def test_body_over_limit_is_413(client, admin, app):
    big = {"x": "y" * (app.config["MAX_BODY_BYTES"] + 10)}
    res = client.post(URL, json=big, headers=admin)
    assert res.status_code == 413
    assert res.json["code"] == 413


def test_no_contact_is_suppressed(client, admin, seeded):
    res = client.post(URL, json=interaction(customer={"id": "c-9"}), headers=admin)
    [inv] = res.json["invitations"]
    assert inv["status"] == "suppressed"
    assert inv["suppressed_reason"] == "no_contact"
    assert inv["due_at"] is None


def test_email_only_customer_falls_to_email_channel(client, admin, seeded):
    res = client.post(URL, json=interaction(customer={"email": "a@example.com"}), headers=admin)
    assert res.json["invitations"][0]["channel"] == "email"


def test_chat_gets_ces_and_purchase_gets_csat_purchase(client, admin, seeded):
    chat = client.post(URL, json=interaction(external_id="ch-1", type="chat"), headers=admin).json
    buy = client.post(URL, json=interaction(external_id="o-1", type="purchase", order={
        "id": "o-1", "amount": "99.50", "currency": "CNY"}), headers=admin).json
    assert [i["survey"] for i in chat["invitations"]] == ["ces-chat"]
    assert chat["invitations"][0]["channel"] == "email"
    assert [i["survey"] for i in buy["invitations"]] == ["csat-purchase"]
    assert buy["interaction"]["order"] == {"id": "o-1", "amount": "99.50", "currency": "CNY"}


def test_throttle_suppresses_second_interaction_of_same_customer(client, admin, seeded):
    client.post(URL, json=interaction(), headers=admin)
    second = client.post(URL, json=interaction(external_id="call-2"), headers=admin).json
    assert second["invitations"][0]["suppressed_reason"] == "throttled"


def test_opted_out_phone_uses_next_channel(client, admin, seeded, app):
    from survey_service.invitations.service import opt_out

    with app.app_context():
        opt_out("sms", "+8613800138000")
        opt_out("ivr", "+8613800138000")
        db.session.commit()
    res = client.post(URL, json=interaction(), headers=admin).json
    assert res["invitations"][0]["channel"] == "email"


def test_batch_reports_each_item(client, admin, seeded, app):
    first = interaction(external_id="b-1", customer={"email": "x@example.com"})
    items = [first, interaction(external_id="b-2", type="fax"), first,
             {**first, "queue": "other"}]
    res = client.post(f"{URL}/batch", json={"items": items}, headers=admin)
    assert res.status_code == 200
    statuses = [r["status"] for r in res.json["items"]]
    assert statuses == [201, 422, 200, 409]
    assert "type" in res.json["items"][1]["body"]["errors"]["json"]
    assert count(app, Interaction) == 1


def test_batch_over_1000_is_422(client, admin):
    res = client.post(f"{URL}/batch", json={"items": [{}] * 1001}, headers=admin)
    assert res.status_code == 422
    assert "items" in res.json["errors"]["json"]


def test_concurrent_replays_record_once(client, admin, seeded, app):
    """The same event posted by several threads at once: one 201, the rest 200 with its body."""
    import threading

    body = interaction()
    results = []

    def post():
        res = app.test_client().post(URL, json=body, headers=admin)
        results.append((res.status_code, res.json))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in results)
    assert codes == [200, 200, 200, 201], results
    assert len({str(b) for _, b in results}) == 1
    assert count(app, Interaction) == 1
