"""The outbox: messages kept in the database instead of sent, when no provider is configured."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from survey_service.db import Base, utcnow


class OutboxMessage(Base):
    """A message that an outbox channel 'sent'; shown on the dashboard and read by tests."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
