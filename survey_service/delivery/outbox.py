"""The outbox channel: stores messages in the database instead of sending them."""

from __future__ import annotations

from survey_service.delivery.base import OutgoingMessage, SendResult
from survey_service.delivery.models import OutboxMessage
from survey_service.extensions import db


class OutboxChannel:
    """Used for any channel whose provider is not configured (the embedded default)."""

    def __init__(self, name: str):
        self.name = name

    def send(self, message: OutgoingMessage) -> SendResult:
        row = OutboxMessage(channel=self.name, to=message.to, subject=message.subject,
                            body_text=message.text, body_html=message.html,
                            invitation_id=message.invitation_id)
        db.session.add(row)
        db.session.flush()
        return SendResult(provider_id=f"outbox-{row.id}")
