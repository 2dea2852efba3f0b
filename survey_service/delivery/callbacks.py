"""Delivery status from Twilio (callbacks, or a lookup when reconciling): what it means, then apply it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, select

from survey_service.db import utcnow
from survey_service.delivery.twilio import INVALID_NUMBER, OPTED_OUT, ProviderStatus
from survey_service.extensions import db
from survey_service.invitations import service as invitations
from survey_service.invitations.models import Invitation, Status

log = logging.getLogger(__name__)

ACCEPTED = {
    "sms": frozenset({"accepted", "scheduled", "queued", "sending", "sent"}),
    "ivr": frozenset({"queued", "initiated", "ringing"}),
}
DELIVERED = {
    "sms": frozenset({"delivered", "read"}),
    "ivr": frozenset({"in-progress", "answered", "completed"}),
}
NOT_DELIVERED = {
    "sms": frozenset({"undelivered", "failed", "canceled"}),
    "ivr": frozenset({"busy", "no-answer", "failed", "canceled"}),
}
# Give up on a row in `sending` that never got a provider id after this long (crash before the call).
GIVE_UP_UNCONFIRMED = timedelta(days=1)


def parse_error_code(raw) -> int | None:
    """Twilio's ErrorCode field as an int (absent, empty, garbage or past any Twilio code: None)."""
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        return None
    return int(raw)


def decide(channel: str, status: str, error_code: int | None) -> tuple[str, str | None]:
    """(action, reason) for a status report; action is sent, delivered, opt_out, fall_back, fail or ignore."""
    status = (status or "").lower()
    if status in ACCEPTED.get(channel, ()):
        return "sent", None
    if status in DELIVERED.get(channel, ()):
        return "delivered", None
    if status in NOT_DELIVERED.get(channel, ()):
        if error_code == OPTED_OUT:
            return "opt_out", f"twilio_{error_code}"
        if error_code in INVALID_NUMBER:
            return "fall_back", f"twilio_{error_code}"
        # Accepted but not delivered (30001, 30008, busy, ...): the send is done, so fail, never resend.
        if error_code:
            return "fail", f"twilio_{error_code}"
        return "fail", f"{'call' if channel == 'ivr' else 'sms'}_{status.replace('-', '_')}"
    return "ignore", None


def apply_status(invitation_id: int, channel: str, sid: str | None, status: str,
                 error_code: int | None, now: datetime | None = None) -> str:
    """Apply one status report to its invitation; replays and late or stale reports change nothing wrong."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return "unknown"
    # A report about an earlier channel or attempt (the invitation fell back since) is stale.
    if inv.channel != channel or (sid and inv.provider_id and inv.provider_id != sid):
        return "stale"
    action, reason = decide(channel, status, error_code)
    if action == "sent":
        if inv.status == Status.SENDING:
            invitations.mark_sent(inv.id, sid, now=now,
                                  expires_after=inv.survey.expires_after_seconds if inv.survey else None)
    elif action == "delivered":
        invitations.mark_delivered(inv.id, now=now)
    elif action == "opt_out":
        if not inv.is_final:
            invitations.opt_out(inv.channel, inv.address, reason=reason)
            invitations.fall_back(inv.id, reason, now=now)
    elif action == "fall_back":
        invitations.fall_back(inv.id, reason, now=now)
    elif action == "fail":
        invitations.fail(inv.id, reason, now=now)
    db.session.refresh(inv)
    log.info("invitation %s: %s status %s -> %s", inv.id, channel, status, inv.status)
    return inv.status


def reconcile_sending(now: datetime | None = None, limit: int = 50) -> int:
    """Settle rows left in `sending` (rule 2): ask the provider by id, never resend; returns how many.

    A row still unsettled after its turn (no id yet, no answer, the provider still sending) wakes
    again one reconcile period later, so a few stuck rows never hold up the others.
    """
    from survey_service.delivery.registry import channel_for

    now = now or utcnow()
    period = invitations.reconcile_after()
    rows = list(db.session.scalars(
        select(Invitation)
        .where(and_(Invitation.wake_at <= now, Invitation.status == Status.SENDING))
        .order_by(Invitation.wake_at).limit(limit)))
    settled = 0
    for inv in rows:
        if inv.sending_at is not None and inv.sending_at > now - period:
            invitations.wake_later(inv.id, Status.SENDING, inv.sending_at + period)
            continue
        after = _reconcile_one(inv, channel_for, now)
        settled += after != Status.SENDING
        if after == Status.SENDING:
            invitations.wake_later(inv.id, Status.SENDING, now + period)
    return settled


def _reconcile_one(inv: Invitation, channel_for, now: datetime) -> str:
    """One row's turn: its status afterwards (still `sending` when nothing was learnt)."""
    if inv.provider_id is None:
        # No id: the status callback names the invitation and settles it; only give up at last.
        if inv.sending_at is None or inv.sending_at <= now - GIVE_UP_UNCONFIRMED:
            invitations.fail(inv.id, "send_unconfirmed", now=now)
            return Status.FAILED
        return Status.SENDING
    lookup = getattr(channel_for(inv.channel), "lookup", None)
    if lookup is None:
        return Status.SENDING
    try:
        found: ProviderStatus = lookup(inv.provider_id)
    except Exception as exc:  # one provider hiccup must not stop the sweep
        log.warning("invitation %s: lookup failed (%s)", inv.id, type(exc).__name__)
        return Status.SENDING
    return apply_status(inv.id, inv.channel, inv.provider_id, found.status, found.error_code, now=now)
