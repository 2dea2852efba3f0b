"""Send one invitation at most once: claim, compose, hand to the channel, record the outcome."""

from __future__ import annotations

import logging

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
                          expires_after=claim.survey.expires_after_seconds)
    db.session.commit()
    return "sent"


def handle_permanent(inv: Claim, exc: PermanentError) -> str:
    """Opt the address out when the provider says so, then fall back or fail."""
    if exc.opt_out:
        invitations.opt_out(inv.channel, inv.address, reason=exc.reason)
    if exc.fall_back or exc.opt_out:
        return invitations.fall_back(inv.id, exc.reason)
    invitations.fail(inv.id, exc.reason)
    return "failed"
