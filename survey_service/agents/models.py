"""The agent directory: one row per agent id the platforms use, filled by intake, completed by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from survey_service.db import Base, utcnow


class Agent(Base):
    """An agent as the platforms name them (`id`), with what a survey to them and reports need.

    Intake adds an agent it meets for the first time and fills `name` and `team` only while they are
    empty; what an admin sets through the API is never overwritten by intake.
    """

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
