"""Incentive codes: one per qualifying invitation, kept in clear so the thank-you page can show it again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from survey_service.db import Base


class IncentiveCode(Base):
    """The code an answered invitation earned (DESIGN 6), keyed by the invitation, never the response.

    An anonymous response keeps no invitation reference (DESIGN 5), and the invitation keeps none to
    its response, so a code row that names only the invitation (and its survey) lets nobody join it
    to what was answered: the code belongs to the invitation, as the reward was promised to it, and
    anonymous answers earn it too. `issued_at` is the answer's moment, which the invitation already
    holds (`answered_at`); the response itself keeps only its day.

    The sending columns carry the code once on the invitation's channel: `sending_at` is the claim
    (a conditional UPDATE, so two tasks never both send), `sent_at` the provider's acceptance, or the
    moment an SMS reply carried it; `send_failure` why it could not go.
    """

    __tablename__ = "incentive_codes"
    __table_args__ = (
        CheckConstraint("(redeemed_at IS NULL) = (order_id IS NULL)", name="redeemed_with_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(11), unique=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(64))
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    send_failure: Mapped[str | None] = mapped_column(String(64))
