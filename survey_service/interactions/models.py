"""An interaction that ended (a call, chat, purchase, ...), as a platform reported it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_service.db import Base, utcnow

INTERACTION_TYPES = ("call", "chat", "purchase", "email", "visit")


class Interaction(Base):
    """One reported interaction; `source` + `external_id` identify it for replays."""

    __tablename__ = "interactions"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    ended_at: Mapped[datetime]
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    customer_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), index=True)
    customer_locale: Mapped[str | None] = mapped_column(String(16))
    customer_timezone: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    agent_name: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    order_id: Mapped[str | None] = mapped_column(String(128))
    order_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    order_currency: Mapped[str | None] = mapped_column(String(3))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    request_hash: Mapped[str] = mapped_column(String(64))
    first_body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    invitations = relationship("Invitation", back_populates="interaction", lazy="selectin",
                               order_by="Invitation.id")
