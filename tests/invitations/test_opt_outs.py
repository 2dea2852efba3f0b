"""The opt-out list: the admin API, normalised addresses, and suppression on every survey."""

from __future__ import annotations

import pytest

from survey_service.extensions import db
from survey_service.invitations.models import OptOut
from survey_service.invitations.policy import Contact
from survey_service.invitations.service import address_key, opted_out_pairs
from tests.conftest import interaction

PHONE, EMAIL = "+8613800138000", "li.wei@example.com"


def _post(client, admin, **body):
    return client.post("/api/v1/opt-outs", json=body, headers=admin)


def test_post_normalises_the_address_and_answers_201_then_200(client, admin, app):
    first = _post(client, admin, channel="sms", address="+86 138 0013 8000", reason="called in")
    assert first.status_code == 201, first.json
    assert (first.json["channel"], first.json["address"], first.json["reason"]) == ("sms", PHONE,
                                                                                    "called in")
    again = _post(client, admin, channel="sms", address=PHONE)
    assert again.status_code == 200 and again.json == first.json
    mail = _post(client, admin, channel="email", address="Li.Wei@EXAMPLE.com")
    assert mail.status_code == 201 and mail.json["address"] == "Li.Wei@example.com"
    assert mail.json["reason"] == "request"
    with app.app_context():
        assert db.session.query(OptOut).count() == 2


@pytest.mark.parametrize("body, field", [
    ({"channel": "sms", "address": "not a number"}, "address"),
    ({"channel": "email", "address": "nobody"}, "address"),
    ({"channel": "fax", "address": PHONE}, "channel"),
    ({"address": PHONE}, "channel"),
    ({"channel": "sms", "address": PHONE, "reason": "x" * 33}, "reason"),
    ({"channel": "sms", "address": PHONE, "extra": 1}, "extra"),
])
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(client, admin, app, body, field):
    res = client.post("/api/v1/opt-outs", json=body, headers=admin)
    assert res.status_code == 422
    assert field in res.json["errors"]["json"] and field in res.json["message"]
    with app.app_context():
        assert db.session.query(OptOut).count() == 0


def test_the_api_needs_an_admin_key(client, make_key):
    assert client.get("/api/v1/opt-outs").status_code == 401
    reader = make_key("reports:read")
    assert client.get("/api/v1/opt-outs", headers=reader).status_code == 403
    assert client.post("/api/v1/opt-outs", json={"channel": "sms", "address": PHONE},
                       headers=reader).status_code == 403
    assert client.delete(f"/api/v1/opt-outs/sms/{PHONE}", headers=reader).status_code == 403


def test_list_filters_by_channel_and_pages_by_id(client, admin):
    for n in range(5):
        _post(client, admin, channel="sms", address=f"+861380013800{n}")
    _post(client, admin, channel="email", address=EMAIL)
    res = client.get("/api/v1/opt-outs?channel=sms&limit=2", headers=admin)
    assert res.status_code == 200
    page = res.json["items"]
    assert [item["address"] for item in page] == ["+8613800138000", "+8613800138001"]
    rest = client.get(f"/api/v1/opt-outs?channel=sms&after={page[-1]['id']}", headers=admin).json["items"]
    assert [item["address"][-1] for item in rest] == ["2", "3", "4"]
    everything = client.get("/api/v1/opt-outs", headers=admin).json["items"]
    assert [item["channel"] for item in everything] == ["sms"] * 5 + ["email"]
    assert client.get("/api/v1/opt-outs?limit=0", headers=admin).status_code == 422
    assert client.get("/api/v1/opt-outs?channel=fax", headers=admin).status_code == 422


def test_delete_takes_the_address_off_and_an_unknown_one_is_404(client, admin, app):
    _post(client, admin, channel="sms", address=PHONE)
    assert client.delete("/api/v1/opt-outs/sms/+86%20138%200013%208000", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/opt-outs/sms/{PHONE}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/opt-outs/fax/{PHONE}", headers=admin).status_code == 404
    assert client.delete("/api/v1/opt-outs/sms/nonsense", headers=admin).status_code == 404
    with app.app_context():
        assert db.session.query(OptOut).count() == 0


def _intake(client, admin, external_id, type_="call", **customer):
    body = interaction(external_id=external_id, type=type_,
                       customer={"id": "c-1", "locale": "zh-Hans", **customer})
    res = client.post("/api/v1/interactions", json=body, headers=admin)
    assert res.status_code == 201, res.json
    return res.json["invitations"]


@pytest.mark.parametrize("type_", ["call", "chat", "purchase"])
def test_an_address_opted_out_through_the_api_is_suppressed_on_every_survey(client, admin, seeded,
                                                                           type_):
    for channel, address in (("sms", PHONE), ("ivr", PHONE), ("email", EMAIL)):
        assert _post(client, admin, channel=channel, address=address).status_code == 201
    [inv] = _intake(client, admin, f"{type_}-1", type_, phone=PHONE, email=EMAIL)
    assert (inv["status"], inv["suppressed_reason"]) == ("suppressed", "opted_out")
    client.delete(f"/api/v1/opt-outs/email/{EMAIL}", headers=admin)
    [inv] = _intake(client, admin, f"{type_}-2", type_, phone=PHONE, email=EMAIL)
    assert (inv["status"], inv["channel"]) == ("scheduled", "email")


def test_an_opt_out_kept_only_by_its_keyed_hash_still_suppresses(client, admin, seeded, app):
    with app.app_context():
        db.session.add(OptOut(channel="email", address_hash=address_key(EMAIL), reason="stop"))
        db.session.commit()
        assert opted_out_pairs(Contact(email=EMAIL, phone=PHONE)) == {("email", EMAIL)}
    [inv] = _intake(client, admin, "chat-1", "chat", email=EMAIL)
    assert (inv["status"], inv["suppressed_reason"]) == ("suppressed", "opted_out")
    # Opting out again finds the hashed row: no address comes back in clear.
    again = _post(client, admin, channel="email", address=EMAIL)
    assert again.status_code == 200 and again.json["address"] is None
    assert client.delete(f"/api/v1/opt-outs/email/{EMAIL}", headers=admin).status_code == 204


def test_the_keyed_hash_depends_on_the_secret_key(app):
    with app.app_context():
        mine = address_key(EMAIL)
        assert mine != address_key(EMAIL.upper()) and len(mine) == 64 and EMAIL not in mine
        app.config["SECRET_KEY"], old = "another-secret-key", app.config["SECRET_KEY"]
        try:
            assert address_key(EMAIL) != mine
        finally:
            app.config["SECRET_KEY"] = old


def test_the_migration_keeps_existing_opt_outs_and_its_downgrade_drops_only_hashed_ones(new_database):
    """0007 leaves rows made before it as they were; going back forgets the rows with no address."""
    from alembic import command
    from sqlalchemy import create_engine, insert, select

    from survey_service.db import utcnow
    from survey_service.migrate import alembic_config

    url = new_database()
    config = alembic_config(url)
    command.upgrade(config, "0006")
    engine = create_engine(url)
    opt_outs = OptOut.__table__
    before = {"channel": "sms", "address": PHONE, "reason": "stop", "created_at": utcnow()}
    with engine.begin() as conn:
        conn.execute(insert(opt_outs).values(**before))
    command.upgrade(config, "head")
    with engine.begin() as conn:
        assert conn.execute(select(opt_outs.c.address, opt_outs.c.address_hash)).all() == [(PHONE, None)]
        conn.execute(insert(opt_outs).values(channel="email", address_hash="0" * 64, reason="stop",
                                             created_at=utcnow()))
    command.downgrade(config, "0006")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT channel, address FROM opt_outs").all() == [("sms", PHONE)]
    engine.dispose()


def test_a_row_holds_its_address_or_its_hash_never_both_nor_neither(app):
    from sqlalchemy.exc import IntegrityError

    for values in ({"address": PHONE, "address_hash": "0" * 64}, {}):
        with app.app_context():
            db.session.add(OptOut(channel="sms", reason="stop", **values))
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()
