"""Invitation state changes: the sweeper's claim, expiry, send outcomes and channel fallback.

Every change is one conditional UPDATE, so two workers never both win (DESIGN.md section 3).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import FINAL, Invitation, OptOut, Status
from survey_service.invitations.policy import pick_channel
from survey_service.invitations.tokens import new_token

# A row left `queued` this long lost its broker message (Redis restarted): enqueue it again.
REQUEUE_AFTER = timedelta(minutes=2)


def claim_due(now: datetime | None = None, limit: int = 500) -> list[int]:
    """scheduled -> queued for rows that are due; returns the ids this call claimed."""
    now = now or utcnow()
    due = (select(Invitation.id)
           .where(and_(Invitation.status == Status.SCHEDULED, Invitation.due_at <= now))
           .order_by(Invitation.due_at).limit(limit))
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(due))
    if not ids:
        return []
    claimed = db.session.scalars(
        update(Invitation)
        .where(and_(Invitation.id.in_(ids), Invitation.status == Status.SCHEDULED))
        .values(status=Status.QUEUED, queued_at=now)
        .returning(Invitation.id))
    return sorted(claimed)


def reclaim_lost(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Rows queued long ago whose task never ran: touch them and return their ids to enqueue."""
    now = now or utcnow()
    stale = list(db.session.scalars(
        select(Invitation.id)
        .where(and_(Invitation.status == Status.QUEUED, Invitation.queued_at <= now - REQUEUE_AFTER))
        .limit(limit)))
    if stale:
        db.session.execute(update(Invitation)
                           .where(and_(Invitation.id.in_(stale), Invitation.status == Status.QUEUED))
                           .values(queued_at=now))
    return stale


def expire_due(now: datetime | None = None) -> int:
    """Open invitations past their expiry become `expired`; returns how many."""
    now = now or utcnow()
    result = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.status.in_([Status.SCHEDULED, Status.QUEUED, Status.SENT,
                                           Status.DELIVERED]),
                    Invitation.expires_at <= now))
        .values(status=Status.EXPIRED))
    return result.rowcount or 0


def claim_for_send(invitation_id: int, now: datetime | None = None) -> str | None:
    """queued -> sending with a fresh token; returns the clear token, or None if another won."""
    now = now or utcnow()
    token, token_hash = new_token()
    result = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status == Status.QUEUED))
        .values(status=Status.SENDING, sending_at=now, token_hash=token_hash,
                attempts=Invitation.attempts + 1))
    return token if result.rowcount == 1 else None


def mark_sent(invitation_id: int, provider_id: str | None, now: datetime | None = None) -> bool:
    """sending -> sent; expiry restarts from the send time. False if a callback got there first."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    values = {"provider_id": provider_id, "sent_at": now}
    if inv is not None and inv.survey is not None:
        values["expires_at"] = now + timedelta(seconds=inv.survey.expires_after_seconds)
    moved = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status == Status.SENDING))
        .values(status=Status.SENT, **values)).rowcount == 1
    if not moved:
        # A delivery callback may have moved it on already; still record who carried it.
        db.session.execute(update(Invitation)
                           .where(and_(Invitation.id == invitation_id,
                                       Invitation.provider_id.is_(None)))
                           .values(**values))
    return moved


def backoff_seconds(attempt: int, base: float, cap: float, rng=random.random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng() * min(cap, base * (2 ** max(0, attempt - 1)))


def reschedule_after_transient(invitation_id: int, reason: str, max_attempts: int, base: float,
                               cap: float, now: datetime | None = None) -> str:
    """sending -> scheduled with a backoff due time, or -> failed once attempts are used up."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None or inv.status != Status.SENDING:
        return inv.status if inv else "missing"
    if inv.attempts >= max_attempts:
        fail(invitation_id, f"retries_exhausted:{reason}", now=now)
        return Status.FAILED
    delay = max(1.0, backoff_seconds(inv.attempts, base, cap))
    db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status == Status.SENDING))
        .values(status=Status.SCHEDULED, due_at=now + timedelta(seconds=delay),
                token_hash=None, failure_reason=reason))
    return Status.SCHEDULED


def fail(invitation_id: int, reason: str, now: datetime | None = None) -> bool:
    """Any open state -> failed with a reason; a final state stays as it is."""
    now = now or utcnow()
    return db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status.notin_(list(FINAL))))
        .values(status=Status.FAILED, failure_reason=reason, failed_at=now)).rowcount == 1


def opt_out(channel: str, address: str, reason: str = "request") -> None:
    """Put an address on a channel's opt-out list (idempotent)."""
    exists = db.session.scalar(select(OptOut.id).where(
        and_(OptOut.channel == channel, OptOut.address == address)))
    if exists is None:
        with db.session.begin_nested():
            db.session.add(OptOut(channel=channel, address=address, reason=reason))


def fall_back(invitation_id: int, reason: str, now: datetime | None = None) -> str:
    """Move to the survey's next reachable channel, due now; else fail with `reason`."""
    from survey_service.interactions.service import contact_of, opted_out_pairs

    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None or inv.is_final:
        return inv.status if inv else "missing"
    contact = contact_of(inv.interaction)
    channel, address, _ = pick_channel(inv.survey.channels, contact, opted_out_pairs(contact),
                                       after=inv.channel)
    if channel is None:
        fail(invitation_id, reason, now=now)
        return Status.FAILED
    moved = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id,
                    or_(*(Invitation.status == s for s in
                          (Status.SENDING, Status.SENT, Status.QUEUED, Status.SCHEDULED)))))
        .values(status=Status.SCHEDULED, channel=channel, address=address, due_at=now,
                token_hash=None, provider_id=None, failure_reason=reason,
                expires_at=now + timedelta(seconds=inv.survey.expires_after_seconds)))
    return Status.SCHEDULED if moved.rowcount == 1 else inv.status


def mark_delivered(invitation_id: int, now: datetime | None = None) -> bool:
    """sending/sent -> delivered; delivered_at is kept once set, and a final state stays final."""
    now = now or utcnow()
    moved = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id,
                    Invitation.status.in_([Status.SENDING, Status.SENT])))
        .values(status=Status.DELIVERED, delivered_at=now,
                sent_at=func.coalesce(Invitation.sent_at, now))).rowcount == 1
    if not moved:
        # Answered or expired before the receipt came: still a delivery, for response rates.
        db.session.execute(
            update(Invitation)
            .where(and_(Invitation.id == invitation_id, Invitation.delivered_at.is_(None),
                        Invitation.status.in_([Status.ANSWERED, Status.EXPIRED])))
            .values(delivered_at=now))
    return moved


def opt_in(channel: str, address: str) -> bool:
    """Take an address off a channel's opt-out list (START); True if it was on it."""
    return db.session.execute(
        delete(OptOut).where(and_(OptOut.channel == channel, OptOut.address == address))
    ).rowcount > 0
