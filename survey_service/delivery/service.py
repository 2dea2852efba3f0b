"""Send one invitation (or one of its reminders) at most once: claim, compose, hand to the channel,
record the outcome."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app

from survey_service.db import utcnow
from survey_service.delivery.base import PermanentError, TransientError
from survey_service.delivery.messages import compose
from survey_service.delivery.registry import channel_for
from survey_service.extensions import db
from survey_service.invitations import service as invitations
from survey_service.invitations.service import Claim

log = logging.getLogger(__name__)


def send_invitation(invitation_id: int) -> str:
    """The send task's body; returns what happened (sent, skipped, scheduled, failed).

    The claim (queued -> sending) commits before the provider is called (rule 2), so a second
    task for the same row finds nothing to claim and sends nothing.
    """
    claim = invitations.claim_for_send(invitation_id)
    db.session.commit()
    if claim is None:
        return "skipped"
    message = compose(claim)
    cfg = current_app.config
    try:
        result = channel_for(claim.channel).send(message)
    except TransientError as exc:
        db.session.rollback()
        outcome = invitations.reschedule_after_transient(
            invitation_id, exc.reason, cfg["SEND_MAX_RETRIES"], cfg["RETRY_BACKOFF_BASE"],
            cfg["RETRY_BACKOFF_MAX"])
        db.session.commit()
        log.info("invitation %s: transient %s, now %s", invitation_id, exc.reason, outcome)
        return str(outcome)
    except PermanentError as exc:
        db.session.rollback()
        outcome = handle_permanent(claim, exc)
        db.session.commit()
        log.info("invitation %s: permanent %s, now %s", invitation_id, exc.reason, outcome)
        return str(outcome)
    invitations.mark_sent(invitation_id, result.provider_id, now=utcnow(),
                          expires_after=claim.survey.expires_after_seconds, claim=claim)
    db.session.commit()
    return "sent"


def send_reminder(invitation_id: int) -> str:
    """The reminder task's body; returns what happened (sent, skipped, retry, refused).

    Its claim commits before the provider is called, as an invitation's does, so a reminder goes
    at most once. A reminder never changes the invitation's status: a transient error puts it
    back, due again in RETRY_BACKOFF_MAX/2 to RETRY_BACKOFF_MAX seconds while the invitation is
    open; a permanent one uses it up (and opts the address out when the provider says so).
    """
    claim = invitations.claim_reminder(invitation_id)
    db.session.commit()
    if claim is None:
        return "skipped"
    message = compose(claim)
    try:
        channel_for(claim.channel).send(message)
    except TransientError as exc:
        db.session.rollback()
        cap = current_app.config["RETRY_BACKOFF_MAX"]
        retry_at = utcnow() + timedelta(seconds=cap * (1 + random.random()) / 2)
        retried = invitations.unclaim_reminder(claim, retry_at)
        db.session.commit()
        log.info("invitation %s: reminder transient %s, %s", invitation_id, exc.reason,
                 "retried later" if retried else "dropped")
        return "retry" if retried else "skipped"
    except PermanentError as exc:
        db.session.rollback()
        if exc.opt_out:
            invitations.opt_out(claim.channel, claim.address, reason=exc.reason)
        invitations.reminder_refused(claim)
        db.session.commit()
        log.info("invitation %s: reminder refused %s", invitation_id, exc.reason)
        return "refused"
    return "sent"


def handle_permanent(inv: Claim, exc: PermanentError) -> str:
    """Opt the address out when the provider says so, then fall back or fail."""
    if exc.opt_out:
        invitations.opt_out(inv.channel, inv.address, reason=exc.reason)
    if exc.fall_back or exc.opt_out:
        return invitations.fall_back(inv.id, exc.reason)
    invitations.fail(inv.id, exc.reason)
    return "failed"
