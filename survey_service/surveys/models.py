"""Survey definitions: what is asked, on which scale, of whom, on which channels, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from survey_service.db import Base, utcnow

METRICS = ("csat", "ces", "nps", "aes")
ANONYMITY = ("optional", "always", "never")
CHANNELS = ("sms", "email", "ivr")


class Survey(Base):
    """One survey definition; `key` is its public name."""

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("scale_min < scale_max", name="scale_order"),
        CheckConstraint("metric IN ('csat','ces','nps','aes')", name="metric_known"),
        CheckConstraint("anonymity IN ('optional','always','never')", name="anonymity_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(8))
    scale_min: Mapped[int]
    scale_max: Mapped[int]
    positive_min: Mapped[int | None]
    higher_is_easier: Mapped[bool | None]
    texts: Mapped[dict] = mapped_column(JSON, default=dict)
    interaction_types: Mapped[list] = mapped_column(JSON, default=list)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    delay_seconds: Mapped[int] = mapped_column(default=300)
    expires_after_seconds: Mapped[int] = mapped_column(default=604800)
    reminder: Mapped[dict | None] = mapped_column(JSON)
    sample_rate: Mapped[float] = mapped_column(default=1.0)
    throttle_days: Mapped[int] = mapped_column(default=30)
    quiet_hours: Mapped[dict | None] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    anonymity: Mapped[str] = mapped_column(String(8), default="optional")
    incentive: Mapped[dict | None] = mapped_column(JSON)
    # The task keys an agent's effort answer may name (labels in texts.<locale>.tasks); None: any label.
    tasks: Mapped[list | None] = mapped_column(JSON)
    respondent: Mapped[str] = mapped_column(String(16), default="customer")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def scale(self) -> dict:
        return {"min": self.scale_min, "max": self.scale_max}

    def __repr__(self) -> str:
        return f"<Survey {self.key}>"
