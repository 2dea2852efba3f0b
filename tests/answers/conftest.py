"""An invitation that was sent, with its clear token, ready to be answered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from survey_service.invitations.tokens import new_token
from tests.conftest import interaction


@pytest.fixture
def sent(client, admin, seeded, app):
    """Make a sent invitation for `survey` (default csat-call); returns (token, invitation id)."""

    def make(external_id="call-1", locale="zh-Hans", survey_changes=None, **overrides):
        if survey_changes:
            res = client.patch(f"/api/v1/surveys/{overrides.get('survey', 'csat-call')}",
                               json=survey_changes, headers=admin)
            assert res.status_code == 200, res.json
        body = interaction(external_id=external_id, type=overrides.get("type", "call"),
                           customer={"id": "c-1", "phone": "+8613800138000", "locale": locale,
                                     "email": "li@example.com"})
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        inv_id = res.json["invitations"][0]["id"]
        token, token_hash = new_token()
        with app.app_context():
            inv = db.session.get(Invitation, inv_id)
            inv.status, inv.token_hash, inv.sent_at = "sent", token_hash, utcnow()
            inv.expires_at = utcnow() + timedelta(days=7)
            db.session.commit()
        return token, inv_id

    return make
