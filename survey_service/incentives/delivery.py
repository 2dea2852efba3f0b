"""Send an earned code once on its invitation's channel (SMS or email), in the respondent's language."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import render_template
from sqlalchemy import and_, exists, select, update

from survey_service.db import utcnow
from survey_service.delivery.base import OutgoingMessage, PermanentError, TransientError
from survey_service.delivery.registry import channel_for
from survey_service.extensions import db
from survey_service.i18n import gettext, normalize_locale
from survey_service.incentives.models import IncentiveCode
from survey_service.incentives.texts import code_sentence, reward_text, valid_until
from survey_service.invitations.models import Invitation, OptOut
from survey_service.surveys.models import Survey

log = logging.getLogger(__name__)

TEXT_CHANNELS = ("sms", "email")
_codes = IncentiveCode.__table__


def context(code: str, expires_at: datetime, survey: Survey, locale: str) -> dict:
    """What the code's templates use: the code, the reward in the survey's words, the last day."""
    locale = normalize_locale(locale)
    reward = reward_text(survey.texts or {}, survey.incentive, locale)
    until = valid_until(expires_at, survey.timezone, locale)
    return {"locale": locale, "code": code, "reward": reward, "until": until,
            "sentence": code_sentence(code, reward, until, locale)}


def compose(invitation: Invitation, code: str, expires_at: datetime) -> OutgoingMessage:
    """The code's own message for the invitation's channel: an email (text and HTML) or an SMS."""
    ctx = context(code, expires_at, invitation.survey, invitation.locale)
    if invitation.channel == "email":
        return OutgoingMessage(
            invitation_id=invitation.id, channel="email", to=invitation.address, locale=ctx["locale"],
            subject=gettext("incentive_email_subject", ctx["locale"]),
            text=render_template("email/incentive.txt", **ctx),
            html=render_template("email/incentive.html", **ctx),
            headers={"Auto-Submitted": "auto-generated"})
    if invitation.channel == "sms":
        # No status callback: that URL reports on the invitation, which was settled by its answer.
        return OutgoingMessage(invitation_id=invitation.id, channel="sms", to=invitation.address,
                               locale=ctx["locale"],
                               text=render_template("sms/incentive.txt", **ctx).strip())
    raise ValueError(f"no incentive message for channel {invitation.channel!r}")


def _claim(code_id: int, now: datetime):
    """Take the code for sending (sending_at, conditional): a second task finds nothing to take."""
    return db.session.execute(
        update(_codes)
        .where(and_(_codes.c.id == code_id, _codes.c.sending_at.is_(None), _codes.c.sent_at.is_(None),
                    _codes.c.send_failure.is_(None)))
        .values(sending_at=now)
        .returning(_codes.c.code, _codes.c.invitation_id, _codes.c.expires_at)).first()


def _settle(code_id: int, **values) -> None:
    db.session.execute(update(_codes).where(_codes.c.id == code_id).values(**values))


def send_code(code_id: int) -> str:
    """The send task's body: sent, skipped, failed, or retry (a transient error released the claim).

    The claim commits before the provider is called, so the code goes out at most once; a crash
    after the provider accepted it leaves it claimed, never sent again.
    """
    claim = _claim(code_id, utcnow())
    db.session.commit()
    if claim is None:
        return "skipped"
    invitation = db.session.get(Invitation, claim.invitation_id)
    reason = _unsendable(invitation)
    if reason:
        _settle(code_id, send_failure=reason)
        db.session.commit()
        return "failed"
    message = compose(invitation, claim.code, claim.expires_at)
    try:
        channel_for(invitation.channel).send(message)
    except TransientError as exc:
        db.session.rollback()
        _settle(code_id, sending_at=None)
        db.session.commit()
        log.info("incentive code %s: transient %s", code_id, exc.reason)
        return "retry"
    except PermanentError as exc:
        db.session.rollback()
        _settle(code_id, send_failure=exc.reason[:64])
        db.session.commit()
        log.info("incentive code %s: permanent %s", code_id, exc.reason)
        return "failed"
    _settle(code_id, sent_at=utcnow())
    db.session.commit()
    return "sent"


def give_up(code_id: int, reason: str = "retries_exhausted") -> None:
    """End a code's sending after its last retry; the code stays valid and shown on the page."""
    _settle(code_id, send_failure=reason, sending_at=None)
    db.session.commit()


def _unsendable(invitation: Invitation | None) -> str | None:
    """Why the code cannot go to this invitation's address: no text channel, none left, opted out."""
    if invitation is None or invitation.channel not in TEXT_CHANNELS:
        return "no_text_channel"
    if not invitation.address:
        return "no_address"
    opted_out = db.session.scalar(select(exists().where(and_(
        OptOut.channel == invitation.channel, OptOut.address == invitation.address))))
    return "opted_out" if opted_out else None
