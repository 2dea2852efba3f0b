"""Invitations that carried an incentive offer, sent and open, and the codes they earn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.incentives.models import IncentiveCode
from survey_service.invitations.models import Invitation
from survey_service.invitations.tokens import new_token
from tests.conftest import interaction
from tests.twilio.conftest import sms_surveys, twilio_api, webhook  # noqa: F401 (fixtures shared here)

REWARD = "10% off your next order"
PHONE = "+8613800138000"


@pytest.fixture
def offer(client, admin, seeded, app):
    """Make a sent csat-purchase invitation; returns (token, invitation id).

    `holdout` makes it a held-out one instead; `channel` email or sms picks the contact given;
    `window` sets the survey's incentive window in seconds.
    """
    numbers = iter(range(1, 10_000))

    def make(*, locale="zh-Hans", channel="email", holdout=False, window=86400, external_id=None):
        res = client.patch("/api/v1/surveys/csat-purchase", headers=admin, json={
            "incentive": {"reward": REWARD, "window_seconds": window, "holdout_rate": 0.1},
            "throttle_days": 0})
        assert res.status_code == 200, res.json
        contact = {"email": "li@example.com"} if channel == "email" else {"phone": PHONE}
        body = interaction(external_id=external_id or f"order-{next(numbers)}", source="shop",
                           type="purchase", customer={"id": "c-1", "locale": locale, **contact})
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        [inv] = res.json["invitations"]
        assert inv["channel"] == channel
        token, token_hash = new_token()
        with app.app_context():
            row = db.session.get(Invitation, inv["id"])
            row.status, row.token_hash, row.sent_at = "sent", token_hash, utcnow()
            row.expires_at = utcnow() + timedelta(days=7)
            row.incentive_offered, row.holdout = not holdout, holdout
            db.session.commit()
        return token, inv["id"]

    return make


def stored_code(app, invitation_id: int) -> IncentiveCode | None:
    """The code row of an invitation, detached, or None."""
    with app.app_context():
        row = db.session.scalar(select(IncentiveCode).where(IncentiveCode.invitation_id == invitation_id))
        if row is not None:
            db.session.expunge(row)
        return row


def answer_json(client, token: str, score: int = 5, **extra):
    return client.post("/api/v1/answers", json={"token": token, "score": score, **extra})
