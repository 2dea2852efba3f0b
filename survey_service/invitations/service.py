"""Invitation state changes: the sweeper's claim, expiry, send outcomes and channel fallback.

Every change is one conditional UPDATE, so two workers never both win (DESIGN.md section 3).
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    lambda_stmt,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import FINAL, Invitation, OptOut, Status
from survey_service.invitations.policy import CHANNEL_ADDRESS, Contact, pick_channel
from survey_service.invitations.tokens import new_token
from survey_service.invitations.wake import REQUEUE_AFTER, Woken, moved, sweep_action, wake_time
from survey_service.surveys.models import Survey


def reconcile_after() -> timedelta:
    """How long a row may stay in `sending` before the provider is asked about it."""
    return timedelta(seconds=current_app.config["RECONCILE_AFTER_SECONDS"])


@dataclass
class Woke:
    """What one pass over the rows whose wake time has come did: ids to enqueue, and counts."""

    seen: int = 0
    claimed: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    expired: int = 0


_WOKEN = (Invitation.id, Invitation.status, Invitation.due_at, Invitation.queued_at,
          Invitation.sending_at, Invitation.expires_at)


def wake_due(now: datetime | None = None, limit: int = 500) -> Woke:
    """Act on up to `limit` rows whose wake time has come (invitations.wake), oldest first.

    Each change is a conditional UPDATE: scheduled -> queued for due rows (rule 1's claim), a new
    queue time for rows whose broker message was lost, expired for open rows past expiry, and a
    new wake time (or none) for the rest, such as answered rows. Rows in `sending` are left to the
    provider lookup (delivery.callbacks.reconcile_sending).
    """
    now = now or utcnow()
    woken = (select(*_WOKEN)
             .where(and_(Invitation.wake_at <= now, Invitation.status != Status.SENDING))
             .order_by(Invitation.wake_at).limit(limit).with_for_update(skip_locked=True))
    by_action: dict[str, list[int]] = {}
    sleeping = []
    period = reconcile_after()
    woke = Woke()
    for row in db.session.execute(woken):
        woke.seen += 1
        action, wake_at = sweep_action(Woken(*row[1:]), now, period)
        if action == "sleep":
            sleeping.append({"b_id": row.id, "b_status": row.status, "b_wake_at": wake_at})
        else:
            by_action.setdefault(action, []).append(row.id)
    if ids := by_action.get("claim"):
        woke.claimed = sorted(db.session.scalars(
            update(Invitation)
            .where(and_(Invitation.id.in_(ids), Invitation.status == Status.SCHEDULED,
                        Invitation.due_at <= now))
            .values(**moved(Status.QUEUED, queued_at=now, now=now))
            .returning(Invitation.id)))
    if ids := by_action.get("requeue"):
        woke.requeued = sorted(db.session.scalars(
            update(Invitation)
            .where(and_(Invitation.id.in_(ids), Invitation.status == Status.QUEUED,
                        Invitation.queued_at <= now - REQUEUE_AFTER))
            .values(**moved(Status.QUEUED, queued_at=now, now=now))
            .returning(Invitation.id)))
    if ids := by_action.get("expire"):
        woke.expired = db.session.execute(
            update(Invitation)
            .where(and_(Invitation.id.in_(ids),
                        Invitation.status.in_([Status.SCHEDULED, Status.QUEUED, Status.SENT,
                                               Status.DELIVERED]),
                        Invitation.expires_at <= now))
            .values(**moved(Status.EXPIRED, now=now))).rowcount or 0
    if sleeping:
        # A row whose state changed since it was read keeps the wake time that change gave it.
        db.session.execute(
            update(Invitation.__table__)
            .where(and_(Invitation.id == bindparam("b_id"), Invitation.status == bindparam("b_status")))
            .values(wake_at=bindparam("b_wake_at")), sleeping)
    return woke


@dataclass(frozen=True)
class ClaimedSurvey:
    """The survey fields an invitation message shows, and its expiry, as read by the claim."""

    texts: dict
    scale_min: int
    scale_max: int
    anonymity: str
    incentive: dict | None
    expires_after_seconds: int


@dataclass(frozen=True)
class Claim:
    """An invitation this task moved to `sending`: its clear token and what its message needs."""

    token: str
    id: int
    channel: str | None
    address: str | None
    locale: str
    incentive_offered: bool
    survey: ClaimedSurvey
    agent_name: str | None


# The send path's two statements are built once: building them on every call cost the worker more CPU
# than executing them.
_inv = Invitation.__table__
_SURVEY_FIELDS = tuple(f.name for f in fields(ClaimedSurvey))


def _of_row(table, column: str, key):
    """`table.column` of the invitation's row (a correlated scalar subquery), labelled `column`."""
    return (select(table.c[column]).where(table.c.id == key).correlate(_inv)
            .scalar_subquery().label(column))


# queued -> sending; its RETURNING also reads the survey and agent fields through subqueries, so a
# send loads what its message needs in the statement that claims the row.
_claim = (
    update(_inv)
    .where(and_(_inv.c.id == bindparam("claim_id"), _inv.c.status == Status.QUEUED))
    .values(status=Status.SENDING, sending_at=bindparam("claim_now"),
            wake_at=bindparam("claim_wake_at", type_=_inv.c.wake_at.type),
            token_hash=bindparam("claim_token_hash"), attempts=_inv.c.attempts + 1)
    .returning(_inv.c.id, _inv.c.channel, _inv.c.address, _inv.c.locale, _inv.c.incentive_offered,
               *(_of_row(Survey.__table__, name, _inv.c.survey_id) for name in _SURVEY_FIELDS),
               _of_row(Interaction.__table__, "agent_name", _inv.c.interaction_id)))
_CLAIM = lambda_stmt(lambda: _claim)  # cached on the lambda: no per-call walk of the statement

# sending -> sent; a row a callback already moved on keeps its status, and gets provider_id, sent_at
# and expiry only while provider_id is empty: who carried it is still recorded, the status never goes back.
# An open row wakes at its (new) expiry; a final one keeps its wake time.
_sending = _inv.c.status == Status.SENDING
_new_expiry = func.coalesce(bindparam("sent_expires_at", type_=_inv.c.expires_at.type),
                            _inv.c.expires_at)
_mark_sent = (
    update(_inv)
    .where(and_(_inv.c.id == bindparam("sent_id"), or_(_sending, _inv.c.provider_id.is_(None))))
    .values(status=case((_sending, Status.SENT), else_=_inv.c.status),
            provider_id=bindparam("sent_provider_id"), sent_at=bindparam("sent_now"),
            expires_at=_new_expiry,
            wake_at=case((_inv.c.status.in_(sorted(FINAL)), _inv.c.wake_at), else_=_new_expiry))
    .returning(_inv.c.status))
_MARK_SENT = lambda_stmt(lambda: _mark_sent)


def claim_for_send(invitation_id: int, now: datetime | None = None) -> Claim | None:
    """queued -> sending with a fresh token, in one UPDATE ... RETURNING; None if another task won."""
    token, token_hash = new_token()
    now = now or utcnow()
    row = db.session.execute(_CLAIM, {"claim_id": invitation_id, "claim_now": now,
                                      "claim_wake_at": wake_time(Status.SENDING, sending_at=now, now=now,
                                                                 reconcile_after=reconcile_after()),
                                      "claim_token_hash": token_hash}).one_or_none()
    if row is None:
        return None
    survey = ClaimedSurvey(*(getattr(row, name) for name in _SURVEY_FIELDS))
    return Claim(token, row.id, row.channel, row.address, row.locale, row.incentive_offered, survey,
                 row.agent_name)


def mark_sent(invitation_id: int, provider_id: str | None, now: datetime | None = None,
              expires_after: int | None = None) -> bool:
    """sending -> sent, expiry restarting from the send time; True if the row is now `sent`.

    One UPDATE, also when a delivery callback got there first. `expires_after` is the survey's
    expires_after_seconds when the caller has it already (saves a query).
    """
    now = now or utcnow()
    if expires_after is None:
        expires_after = db.session.scalar(
            select(Survey.expires_after_seconds)
            .where(Survey.id == select(_inv.c.survey_id).where(_inv.c.id == invitation_id)
                   .scalar_subquery()))
    expires_at = now + timedelta(seconds=expires_after) if expires_after is not None else None
    status = db.session.execute(_MARK_SENT, {"sent_id": invitation_id, "sent_provider_id": provider_id,
                                             "sent_now": now, "sent_expires_at": expires_at}).scalar()
    return status == Status.SENT


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
    due_at = now + timedelta(seconds=max(1.0, backoff_seconds(inv.attempts, base, cap)))
    db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status == Status.SENDING))
        .values(**moved(Status.SCHEDULED, due_at=due_at, now=now), token_hash=None, failure_reason=reason))
    return Status.SCHEDULED


def fail(invitation_id: int, reason: str, now: datetime | None = None) -> bool:
    """Any open state -> failed with a reason; a final state stays as it is."""
    now = now or utcnow()
    return db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status.notin_(list(FINAL))))
        .values(**moved(Status.FAILED, now=now), failure_reason=reason, failed_at=now)
    ).rowcount == 1


def wake_later(invitation_id: int, status: str, wake_at: datetime) -> bool:
    """Put off the row's next wake while it is still in `status` (a change since sets its own)."""
    return db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id, Invitation.status == status))
        .values(wake_at=wake_at)).rowcount == 1


def address_key(address: str) -> str:
    """The keyed hash (HMAC-SHA256 with SECRET_KEY) that keeps an erased customer's opt-out.

    Without the key no one can tell from it which address opted out, nor test a guess.
    """
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"opt-out\x1f" + address.encode(), hashlib.sha256).hexdigest()


def on_opt_out_list(opt_outs, channel, address, address_hash) -> ColumnElement:
    """SQL: the channel's list holds the address, in clear or (erased customer) by its keyed hash."""
    return and_(opt_outs.c.channel == channel,
                or_(opt_outs.c.address == address, opt_outs.c.address_hash == address_hash))


def find_opt_out(channel: str, address: str) -> OptOut | None:
    """The list's row for this address on this channel, whichever way it is kept."""
    return db.session.scalar(select(OptOut).where(
        on_opt_out_list(OptOut.__table__, channel, address, address_key(address))))


def opt_out(channel: str, address: str, reason: str = "request") -> tuple[OptOut, bool]:
    """Put an address on a channel's opt-out list (idempotent); the row, and whether it is new."""
    existing = find_opt_out(channel, address)
    if existing is not None:
        return existing, False
    row = OptOut(channel=channel, address=address, reason=reason)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # a concurrent request put it there first
        return find_opt_out(channel, address), False
    return row, True


def list_opt_outs(channel: str | None, after: int, limit: int) -> list[OptOut]:
    """A page of the list, by id, optionally of one channel."""
    where = [OptOut.id > after] + ([OptOut.channel == channel] if channel else [])
    return list(db.session.scalars(select(OptOut).where(and_(*where)).order_by(OptOut.id).limit(limit)))


def contact_of(interaction) -> Contact:
    """How the interaction's customer can be reached, for choosing a channel again."""
    return Contact(phone=interaction.customer_phone, email=interaction.customer_email,
                   locale=interaction.customer_locale, timezone=interaction.customer_timezone)


def opted_out_pairs(contact: Contact) -> set[tuple[str, str]]:
    """The (channel, address) pairs of this contact that are on the opt-out list."""
    opt_outs = OptOut.__table__
    pairs = {(channel, getattr(contact, field)) for channel, field in CHANNEL_ADDRESS.items()
             if getattr(contact, field)}
    return {(channel, address) for channel, address in pairs if db.session.scalar(
        select(exists().where(on_opt_out_list(opt_outs, channel, address, address_key(address)))))}


def fall_back(invitation_id: int, reason: str, now: datetime | None = None) -> str:
    """Move to the survey's next reachable channel, due now; else fail with `reason`."""
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
    result = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id,
                    or_(*(Invitation.status == s for s in
                          (Status.SENDING, Status.SENT, Status.QUEUED, Status.SCHEDULED)))))
        .values(**moved(Status.SCHEDULED, due_at=now, now=now,
                        expires_at=now + timedelta(seconds=inv.survey.expires_after_seconds)),
                channel=channel, address=address, token_hash=None, provider_id=None,
                failure_reason=reason))
    return Status.SCHEDULED if result.rowcount == 1 else inv.status


def mark_delivered(invitation_id: int, now: datetime | None = None) -> bool:
    """sending/sent -> delivered; delivered_at is kept once set, and a final state stays final."""
    now = now or utcnow()
    changed = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == invitation_id,
                    Invitation.status.in_([Status.SENDING, Status.SENT])))
        .values(status=Status.DELIVERED, delivered_at=now,
                sent_at=func.coalesce(Invitation.sent_at, now),
                # A sent row already wakes at expiry: the same value keeps this update HOT.
                wake_at=case((Invitation.status == Status.SENDING, Invitation.expires_at),
                             else_=Invitation.wake_at))).rowcount == 1
    if not changed:
        # Answered or expired before the receipt came: still a delivery, for response rates.
        db.session.execute(
            update(Invitation)
            .where(and_(Invitation.id == invitation_id, Invitation.delivered_at.is_(None),
                        Invitation.status.in_([Status.ANSWERED, Status.EXPIRED])))
            .values(delivered_at=now))
    return changed


def opt_in(channel: str, address: str) -> bool:
    """Take an address off a channel's opt-out list (START); True if it was on it."""
    return db.session.execute(delete(OptOut).where(
        on_opt_out_list(OptOut.__table__, channel, address, address_key(address)))).rowcount > 0
