"""Fixtures for the opt-out tests: an SMTP server on loopback, and an email invitation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from tests.conftest import interaction

EMAIL = "li.wei@example.com"


@pytest.fixture
def email_invitation(client, admin, seeded, app):
    """Record a chat whose survey goes by email, due now; returns the invitation id."""

    def make(external_id="chat-1", locale="zh-Hans", address=EMAIL, **customer):
        body = interaction(external_id=external_id, type="chat",
                           ended_at=(utcnow() - timedelta(hours=1)).isoformat(),
                           customer={"id": "c-1", "email": address, "locale": locale, **customer})
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        [inv] = res.json["invitations"]
        assert inv["channel"] == "email"
        with app.app_context():
            row = db.session.get(Invitation, inv["id"])
            row.due_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
        return inv["id"]

    return make
