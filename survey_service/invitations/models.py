"""Invitations: the work item that carries one survey to one respondent on one channel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Computed,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    and_,
    event,
    inspect,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_service.db import Base, constant, utcnow


class Status(enum.StrEnum):
    """Invitation states; FINAL ones never change again."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    ANSWERED = "answered"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"


# SQL of invitations.answered_after_reminder (a stored generated column; the migration writes it too).
ANSWERED_AFTER_REMINDER = "COALESCE(reminded_at <= answered_at, false)"

FINAL = frozenset({Status.FAILED, Status.ANSWERED, Status.EXPIRED, Status.SUPPRESSED})
# States in which the respondent holds a link or message and may answer.
ANSWERABLE = frozenset({Status.SENDING, Status.SENT, Status.DELIVERED})


def answer_refusal(status: str, expires_at: datetime | None, now: datetime) -> str | None:
    """Why an invitation takes no answer at `now`: `answered`, `expired` or `not_open`; None if it does.

    Its SQL twin is takes_answers(); a parity test holds the two together.
    """
    if status == Status.ANSWERED:
        return "answered"
    if status == Status.EXPIRED or (expires_at is not None and expires_at <= now):
        return "expired"
    if status not in ANSWERABLE:
        return "not_open"
    return None


def takes_answers(invitations, now) -> ColumnElement:
    """SQL: answer_refusal() is None, for the invitations table or an alias of it.

    IN over constants written into the SQL, not an IN parameter (an expanding parameter, whose SQL
    is re-rendered on every run): the shortest form, which keeps the SMS answer statement short.
    """
    columns = invitations.c
    return and_(columns.status.in_([constant(s.value) for s in sorted(ANSWERABLE)]),
                or_(columns.expires_at.is_(None), columns.expires_at > now))


class Invitation(Base):
    """One survey offered to one respondent; the row itself is the queue entry (rule 1)."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("interaction_id", "survey_id"),
        # The sweep's queue (invitations.wake): no index names `status`, so the answer and delivery
        # webhooks' updates are HOT, with room for the new row version left on each page.
        Index("ix_invitations_wake_at", "wake_at"),
        # Inbound SMS and calls find the respondent's invitations by number.
        Index("ix_invitations_address_channel", "address", "channel"),
        # A reminder's link; partial, so that rows without one (every new row) add no entry.
        Index("ix_invitations_reminder_token_hash", "reminder_token_hash", unique=True,
              postgresql_where=text("reminder_token_hash IS NOT NULL")),
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[str] = mapped_column(String(16), default=Status.SCHEDULED)
    suppressed_reason: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    # When the sweep must next look at the row (invitations.wake); None: never again.
    wake_at: Mapped[datetime | None]
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The link of the last reminder (its token is new: only hashes are kept); the first link stays good.
    reminder_token_hash: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    # The last reminder's send claim (invitations.wake.next_reminder counts from it); a reminder
    # the sweep claimed and whose send task has not claimed it yet (rule 1 for reminders).
    reminded_at: Mapped[datetime | None]
    reminder_queued_at: Mapped[datetime | None]
    # A reminder had been claimed for sending when the answer came. Computed by PostgreSQL, so the
    # answer statement (answers.service.answer_writes) stays as it is, under psycopg's 4 kB cache.
    answered_after_reminder: Mapped[bool] = mapped_column(Computed(ANSWERED_AFTER_REMINDER,
                                                                   persisted=True))
    incentive_offered: Mapped[bool] = mapped_column(default=False)
    holdout: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    interaction = relationship("Interaction", back_populates="invitations")
    survey = relationship("Survey", lazy="joined")

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


_WAKE_INPUTS = ("status", "due_at", "queued_at", "sending_at", "expires_at")


@event.listens_for(Invitation, "before_insert")
@event.listens_for(Invitation, "before_update")
def _follow_state(_mapper, _connection, inv: Invitation) -> None:
    """Keep wake_at with the state when the ORM writes a row; statements set it themselves."""
    state = inspect(inv)
    if state.attrs.wake_at.history.added:
        return
    if state.persistent and not any(state.attrs[name].history.added for name in _WAKE_INPUTS):
        return
    from survey_service.invitations.service import reconcile_after
    from survey_service.invitations.wake import wake_time

    inv.wake_at = wake_time(
        inv.status or Status.SCHEDULED, due_at=inv.due_at, queued_at=inv.queued_at,
        sending_at=inv.sending_at, expires_at=inv.expires_at, now=utcnow(),
        reconcile_after=reconcile_after())


class OptOut(Base):
    """An address that asked not to be contacted on a channel (STOP, carrier 21610, unsubscribe).

    An erased customer's row keeps no address, only its keyed hash (invitations.service.address_key),
    so that their STOP is still honoured; every other row keeps the address and no hash.
    """

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address"), UniqueConstraint("channel", "address_hash"),
                      CheckConstraint("(address IS NULL) <> (address_hash IS NULL)",
                                      name="address_or_hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(320))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), default="request")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
