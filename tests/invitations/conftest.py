"""Fixtures for the opt-out tests: an SMTP server on loopback, and an email invitation."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from tests.conftest import free_port, interaction

EMAIL = "li.wei@example.com"


class Inbox:
    """aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback that the email channel sends to."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    old = {k: app.config.get(k) for k in ("SMTP_HOST", "SMTP_PORT")}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    app.extensions.pop("survey_channels", None)
    yield inbox
    app.config.update(old)
    app.extensions.pop("survey_channels", None)
    controller.stop()


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
