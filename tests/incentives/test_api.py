"""Redemption and stats over HTTP: every status, idempotency, and one winner of a race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.incentives import service
from survey_service.incentives.models import IncentiveCode
from survey_service.invitations.models import Invitation
from tests.incentives.conftest import answer_json, stored_code


@pytest.fixture
def shop(make_key):
    return make_key("incentives:write")


@pytest.fixture
def earned(app, client, offer):
    """A code earned by answering an offered invitation."""
    token, _ = offer()
    res = answer_json(client, token)
    assert res.status_code == 201, res.json
    return res.json["incentive_code"]


def redeem(client, headers, code: str, order_id="o-1001"):
    return client.post(f"/api/v1/incentives/{code}/redeem", json={"order_id": order_id},
                       headers=headers)


def test_redeem_then_again_for_the_same_order_answers_the_same(client, shop, earned):
    first = redeem(client, shop, earned)
    assert first.status_code == 200, first.json
    assert first.json["status"] == "redeemed" and first.json["order_id"] == "o-1001"
    assert first.json["code"] == earned and first.json["survey"] == "csat-purchase"
    again = redeem(client, shop, earned)
    assert again.status_code == 200 and again.json == first.json


def test_a_code_is_read_as_people_type_it(client, shop, earned):
    typed = earned.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    res = redeem(client, shop, typed)
    assert res.status_code == 200 and res.json["code"] == earned


def test_another_order_is_a_409_and_changes_nothing(app, client, shop, earned):
    assert redeem(client, shop, earned).status_code == 200
    res = redeem(client, shop, earned, order_id="o-2002")
    assert res.status_code == 409 and res.json["message"]
    with app.app_context():
        assert db.session.query(IncentiveCode).one().order_id == "o-1001"


def test_an_expired_code_is_a_410(app, client, shop, earned):
    with app.app_context():
        expires = db.session.query(IncentiveCode).one().expires_at
    with time_machine.travel(expires, tick=False):  # valid until expires_at, exclusive
        assert redeem(client, shop, earned).status_code == 410
    with time_machine.travel(expires - timedelta(seconds=1), tick=False):
        assert redeem(client, shop, earned).status_code == 200
    with time_machine.travel(expires + timedelta(days=1), tick=False):
        assert redeem(client, shop, earned).status_code == 200  # already redeemed for this order


@pytest.mark.parametrize("code", ["ABCDE-FGHJK", "not-a-code", "ABCDE-FGHJU", "x" * 300])
def test_an_unknown_code_is_a_404(client, shop, earned, code):
    assert redeem(client, shop, code).status_code == 404


@pytest.mark.parametrize("body, field", [({}, "order_id"), ({"order_id": ""}, "order_id"),
                                          ({"order_id": "x" * 65}, "order_id"),
                                          ({"order_id": "o\x00"}, "order_id")])
def test_a_bad_order_id_is_a_422_naming_it(app, client, shop, earned, body, field):
    res = client.post(f"/api/v1/incentives/{earned}/redeem", json=body, headers=shop)
    assert res.status_code == 422 and field in res.json["errors"]["json"]
    with app.app_context():
        assert db.session.query(IncentiveCode).one().redeemed_at is None


def test_redeeming_needs_the_incentives_scope(client, make_key, earned):
    assert redeem(client, {}, earned).status_code == 401
    assert redeem(client, make_key("reports:read"), earned).status_code == 403


def test_two_redemptions_at_once_end_with_one(app, earned):
    """Eight shops redeem the same code at the same moment, each for its own order."""
    start = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def shop_redeems(n: int):
        with app.app_context():
            start.wait()
            try:
                service.redeem(earned, f"o-{n}")
                db.session.commit()
                outcome = f"o-{n}"
            except service.RedeemedElsewhere:
                db.session.rollback()
                outcome = "409"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=shop_redeems, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o != "409"]
    assert len(outcomes) == 8 and len(winners) == 1
    with app.app_context():
        assert db.session.query(IncentiveCode).one().order_id == winners[0]


def _sent(app, offer, *, holdout=False, answered=False, sent=True):
    token, inv_id = offer(holdout=holdout)
    if not sent:
        with app.app_context():
            row = db.session.get(Invitation, inv_id)
            row.status, row.sent_at = "scheduled", None
            db.session.commit()
    return token, inv_id


def test_stats_count_both_arms_and_measure_the_lift(app, client, offer, shop, make_key):
    reports = make_key("reports:read")
    offered = [_sent(app, offer) for _ in range(4)]
    held = [_sent(app, offer, holdout=True) for _ in range(2)]
    _sent(app, offer, sent=False)  # never sent: no offer was made
    for token, _ in offered[:3] + held[:1]:
        assert answer_json(client, token).status_code == 201
    with app.app_context():
        late = db.session.get(Invitation, offered[2][1])
        late.sent_at = utcnow() - timedelta(days=2)  # answered, but after the window: no code
        db.session.query(IncentiveCode).filter_by(invitation_id=late.id).delete()
        db.session.commit()
    assert redeem(client, shop, stored_code(app, offered[0][1]).code).status_code == 200
    res = client.get("/api/v1/incentives/stats", headers=reports)
    assert res.status_code == 200, res.json
    body = res.json
    assert {k: body[k] for k in ("offered", "held_out", "earned", "redeemed")} == {
        "offered": 4, "held_out": 2, "earned": 2, "redeemed": 1}
    assert body["redemption_rate"] == 50.0
    assert body["response_rate_offer"] == 75.0 and body["response_rate_holdout"] == 50.0
    assert body["lift"] == 25.0
    low, high = body["lift_ci95"]
    assert low < 0 < 25.0 < high <= 100  # six invitations say little
    # The filters: a survey, a range of send times.
    assert client.get("/api/v1/incentives/stats?survey=csat-call",
                      headers=reports).json["offered"] == 0
    assert client.get("/api/v1/incentives/stats?survey=nope", headers=reports).status_code == 404
    since = (utcnow() - timedelta(days=1)).isoformat()
    res = client.get("/api/v1/incentives/stats", query_string={"from": since}, headers=reports)
    assert res.json["offered"] == 3 and res.json["earned"] == 2  # the late one was sent earlier


def test_stats_with_nothing_sent_have_null_rates(client, make_key, seeded):
    res = client.get("/api/v1/incentives/stats", headers=make_key("reports:read"))
    assert res.status_code == 200
    assert res.json["offered"] == 0 and res.json["lift"] is None and res.json["lift_ci95"] is None
    assert res.json["redemption_rate"] is None


@pytest.mark.parametrize("query, field", [({"from": "2026-11-01T00:00:00"}, "from"),
                                          ({"from": "2026-11-02T00:00:00Z",
                                            "to": "2026-11-01T00:00:00Z"}, "from"),
                                          ({"bogus": "1"}, "bogus")])
def test_stats_refuse_bad_queries_by_name(client, make_key, query, field):
    res = client.get("/api/v1/incentives/stats", query_string=query, headers=make_key("reports:read"))
    assert res.status_code == 422 and field in res.json["errors"]["query"]


def test_stats_need_the_reports_scope(client, make_key):
    assert client.get("/api/v1/incentives/stats").status_code == 401
    assert client.get("/api/v1/incentives/stats",
                      headers=make_key("incentives:write")).status_code == 403


