"""Erase one customer's personal data everywhere (DESIGN 7), in the caller's transaction.

Removed: the customer's id and contact details on their interactions (with the first body kept for
replays, and its fingerprint), the address, token and provider id of their invitations (open ones
fail as `erased`), the id, reason and recording of their answers, their SMS and call conversation
state, and the messages stored for them in the outbox. Kept: each answer's score and what scoring
needs, so the figures do not change. Their opt-outs keep only a keyed hash of the address, so a
STOP is still honoured. Inbound SMS rows hold only Twilio's MessageSid and are not linked to anyone.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, null, or_, select, update

from survey_service.answers.models import Conversation, Response
from survey_service.db import utcnow
from survey_service.delivery.models import OutboxMessage
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import FINAL, Invitation, OptOut, Status
from survey_service.invitations.service import address_key
from survey_service.invitations.wake import moved
from survey_service.surveys.models import Survey

ERASED = "erased"  # the fingerprint of an erased event: no replay matches it, so a replay is a 409
TABLES = ("interactions", "invitations", "responses", "conversations", "outbox_messages", "opt_outs")


def erase_customer(customer_id: str) -> dict[str, int]:
    """Erase the customer's personal data; the number of rows changed per table (zeros the 2nd time).

    Their interactions are those naming their id, and those naming no id but one of their phone
    numbers or email addresses; an interaction of another customer id is that customer's.
    """
    now = utcnow()
    named = db.session.execute(
        select(Interaction.id, Interaction.customer_phone, Interaction.customer_email)
        .where(Interaction.customer_id == customer_id).with_for_update()).all()
    addresses = {a for row in named for a in (row.customer_phone, row.customer_email) if a}
    unnamed = db.session.scalars(
        select(Interaction.id).where(and_(
            Interaction.customer_id.is_(None),
            or_(Interaction.customer_phone.in_(addresses), Interaction.customer_email.in_(addresses))))
        .with_for_update()).all() if addresses else []
    interaction_ids = sorted({row.id for row in named} | set(unnamed))
    invitation_ids = db.session.scalars(
        select(Invitation.id).where(and_(
            Invitation.interaction_id.in_(interaction_ids),
            Invitation.survey_id.in_(select(Survey.id).where(Survey.respondent == "customer"))))
    ).all() if interaction_ids else []
    return {
        "interactions": _interactions(interaction_ids),
        "invitations": _invitations(invitation_ids, now),
        "responses": _responses(customer_id, invitation_ids),
        "conversations": _count(delete(Conversation).where(Conversation.invitation_id.in_(invitation_ids))),
        "outbox_messages": _count(delete(OutboxMessage).where(or_(
            OutboxMessage.invitation_id.in_(invitation_ids), OutboxMessage.to.in_(addresses)))),
        "opt_outs": _opt_outs(addresses),
    }


def _count(statement) -> int:
    return db.session.execute(statement).rowcount or 0


def _interactions(ids: list[int]) -> int:
    customer = (Interaction.customer_id, Interaction.customer_phone, Interaction.customer_email,
                Interaction.customer_locale, Interaction.customer_timezone, Interaction.first_body)
    return _count(
        update(Interaction)
        .where(and_(Interaction.id.in_(ids),
                    or_(Interaction.request_hash != ERASED, *(c.isnot(None) for c in customer))))
        .values({c: null() for c in customer} | {Interaction.request_hash: ERASED}))


def _invitations(ids: list[int], now) -> int:
    """Open ones fail as `erased` (there is no one left to send to); no link or address remains."""
    failed = set(db.session.scalars(
        update(Invitation)
        .where(and_(Invitation.id.in_(ids), Invitation.status.notin_(sorted(FINAL))))
        .values(**moved(Status.FAILED, now=now), failure_reason=ERASED, failed_at=now)
        .returning(Invitation.id)))
    blanked = set(db.session.scalars(
        update(Invitation)
        .where(and_(Invitation.id.in_(ids),
                    or_(Invitation.address.isnot(None), Invitation.token_hash.isnot(None),
                        Invitation.reminder_token_hash.isnot(None),
                        Invitation.provider_id.isnot(None))))
        .values(address=None, token_hash=None, reminder_token_hash=None, provider_id=None)
        .returning(Invitation.id)))
    return len(failed | blanked)


def _responses(customer_id: str, invitation_ids: list[int]) -> int:
    """Their answers keep the score and what scoring needs; the reason (free text) and recording go.

    Anonymous answers name no one and cannot be found, which is what anonymity promised.
    """
    personal = (Response.customer_id, Response.reason, Response.recording_url)
    return _count(
        update(Response)
        .where(and_(or_(Response.customer_id == customer_id, Response.invitation_id.in_(invitation_ids)),
                    or_(*(c.isnot(None) for c in personal))))
        .values({c: null() for c in personal}))


def _opt_outs(addresses: set[str]) -> int:
    """Each of their opt-outs keeps only the address's keyed hash (one row per channel and hash)."""
    changed = 0
    for address in sorted(addresses):
        key = address_key(address)
        for row in db.session.scalars(select(OptOut).where(OptOut.address == address)).all():
            if db.session.scalar(select(exists().where(
                    and_(OptOut.channel == row.channel, OptOut.address_hash == key)))):
                db.session.delete(row)
            else:
                row.address, row.address_hash = None, key
            changed += 1
    db.session.flush()
    return changed
