"""The README's incentive walkthrough, step by step: intake, invitation, answer, code email, redeem, stats."""

from __future__ import annotations

from sqlalchemy import select

from survey_service.db import utcnow
from survey_service.delivery.models import OutboxMessage
from survey_service.extensions import db
from survey_service.incentives import delivery
from survey_service.incentives.models import IncentiveCode
from survey_service.invitations.models import Invitation
from survey_service.invitations.policy import draw
from tests.twilio.conftest import deliver


def _last_outbox(app) -> OutboxMessage:
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
        db.session.expunge(row)
        return row


def test_the_readme_walkthrough(app, client, admin, seeded):
    res = client.patch("/api/v1/surveys/csat-purchase", headers=admin,
                       json={"delay_seconds": 0, "quiet_hours": None})
    assert res.status_code == 200
    # An order whose draw is not in the 10% holdout, as most are.
    external_id = next(f"order-{n}" for n in range(5001, 5100)
                       if draw(f"shop\x1forder-{n}", "csat-purchase", "holdout") >= 0.1)
    res = client.post("/api/v1/interactions", headers=admin, json={
        "external_id": external_id, "source": "shop", "type": "purchase",
        "ended_at": utcnow().isoformat(),
        "customer": {"id": "c-42", "email": "li.wei@example.com", "locale": "zh-Hans"}})
    assert res.status_code == 201, res.json
    [invitation] = res.json["invitations"]
    assert deliver(app, invitation["id"]) == "sent"
    invite = _last_outbox(app)
    with app.app_context():
        assert db.session.get(Invitation, invitation["id"]).incentive_offered
    token = invite.body_text.split("/s/", 1)[1].split("?", 1)[0].split()[0]

    res = client.post("/api/v1/answers", json={"token": token, "score": 5})
    assert res.status_code == 201, res.json
    code = res.json["incentive_code"]
    with app.app_context():
        assert delivery.send_code(db.session.scalar(select(IncentiveCode.id))) == "sent"
    mail = _last_outbox(app)
    assert f"您获得了下次订单九折优惠，优惠码：{code}" in mail.body_text

    res = client.post(f"/api/v1/incentives/{code.lower()}/redeem", headers=admin,
                      json={"order_id": "o-9001"})
    assert res.status_code == 200 and res.json["status"] == "redeemed"
    stats = client.get("/api/v1/incentives/stats?survey=csat-purchase", headers=admin).json
    assert (stats["offered"], stats["earned"], stats["redeemed"]) == (1, 1, 1)
    assert stats["response_rate_offer"] == 100.0 and stats["response_rate_holdout"] is None
