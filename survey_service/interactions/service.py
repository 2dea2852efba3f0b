"""Intake: record an ended interaction once, and plan an invitation for each matching survey."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, OptOut, Status
from survey_service.invitations.policy import Contact, plan_invitation
from survey_service.surveys.models import Survey


class ConflictingReplay(Exception):
    """The same source + external_id arrived before with a different body."""


@dataclass
class IntakeResult:
    body: dict
    created: bool


def fingerprint(data: dict) -> str:
    """Hash of the normalised event, so that formatting differences are not a conflict."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _iso(value):
    return value.isoformat() if value is not None else None


def invitation_body(inv: Invitation) -> dict:
    return {"id": inv.id, "survey": inv.survey.key, "channel": inv.channel,
            "status": inv.status, "due_at": _iso(inv.due_at),
            "suppressed_reason": inv.suppressed_reason}


def interaction_body(row: Interaction) -> dict:
    """The intake answer: the interaction as recorded and its invitations with their status."""
    order = None
    if row.order_id or row.order_amount is not None:
        order = {"id": row.order_id,
                 "amount": None if row.order_amount is None else f"{row.order_amount:.2f}",
                 "currency": row.order_currency}
    return {
        "interaction": {
            "external_id": row.external_id, "source": row.source, "type": row.type,
            "ended_at": _iso(row.ended_at),
            "customer": {"id": row.customer_id, "phone": row.customer_phone,
                         "email": row.customer_email, "locale": row.customer_locale,
                         "timezone": row.customer_timezone},
            "agent": {"id": row.agent_id, "name": row.agent_name, "team": row.team},
            "queue": row.queue, "order": order, "attributes": row.attributes or {},
        },
        "invitations": [invitation_body(inv) for inv in row.invitations],
    }


def find_interaction(source: str, external_id: str) -> Interaction | None:
    return db.session.scalar(select(Interaction).where(
        and_(Interaction.source == source, Interaction.external_id == external_id)))


def record_interaction(data: dict) -> IntakeResult:
    """Store the event and its invitations; a replay returns the first body (idempotent)."""
    digest = fingerprint(data)
    # Insert first: new events are the common case, and the unique constraint finds replays.
    row = _new_interaction(data, digest)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        # A replay, or a concurrent request stored the same event first. The caller owns the
        # session and has written nothing else in it, so rolling it back is safe.
        db.session.rollback()
        existing = find_interaction(data["source"], data["external_id"])
        if existing is None:
            raise
        return _replay(existing, digest)
    _plan_invitations(row)
    db.session.flush()
    body = interaction_body(row)
    row.first_body = body
    return IntakeResult(body, created=True)


def _replay(existing: Interaction, digest: str) -> IntakeResult:
    if existing.request_hash != digest:
        raise ConflictingReplay(existing.external_id)
    return IntakeResult(existing.first_body or interaction_body(existing), created=False)


def _new_interaction(data: dict, digest: str) -> Interaction:
    customer, agent, order = data.get("customer") or {}, data.get("agent") or {}, data.get("order") or {}
    return Interaction(
        source=data["source"], external_id=data["external_id"], type=data["type"],
        ended_at=data["ended_at"], customer_id=customer.get("id"),
        customer_phone=customer.get("phone"), customer_email=customer.get("email"),
        customer_locale=customer.get("locale"), customer_timezone=customer.get("timezone"),
        agent_id=agent.get("id"), agent_name=agent.get("name"), team=agent.get("team"),
        queue=data.get("queue"), order_id=order.get("id"), order_amount=order.get("amount"),
        order_currency=order.get("currency"), attributes=data.get("attributes") or {},
        request_hash=digest,
        invitations=[],  # known empty: appending after the flush must not load the collection
    )


def contact_of(row: Interaction) -> Contact:
    return Contact(phone=row.customer_phone, email=row.customer_email,
                   locale=row.customer_locale, timezone=row.customer_timezone)


def opted_out_pairs(contact: Contact) -> set[tuple[str, str]]:
    """The (channel, address) pairs of this contact that are on the opt-out list."""
    addresses = [a for a in (contact.phone, contact.email) if a]
    if not addresses:
        return set()
    rows = db.session.execute(select(OptOut.channel, OptOut.address)
                              .where(OptOut.address.in_(addresses)))
    return {(c, a) for c, a in rows}


def _recently_invited(survey: Survey, row: Interaction, now) -> bool:
    """Whether this customer had a non-suppressed invitation to this survey within throttle_days."""
    if not survey.throttle_days:
        return False
    who = []
    if row.customer_id:
        who.append(Interaction.customer_id == row.customer_id)
    if row.customer_phone:
        who.append(Interaction.customer_phone == row.customer_phone)
    if row.customer_email:
        who.append(Interaction.customer_email == row.customer_email)
    if not who:
        return False
    since = now - timedelta(days=survey.throttle_days)
    # The same customer's other interactions first (index look-ups), then their invitations.
    theirs = select(Interaction.id).where(and_(or_(*who), Interaction.id != row.id))
    hit = db.session.scalar(
        select(Invitation.id)
        .where(and_(Invitation.interaction_id.in_(theirs),
                    Invitation.survey_id == survey.id,
                    Invitation.status != Status.SUPPRESSED,
                    Invitation.created_at >= since))
        .limit(1))
    return hit is not None


def matching_surveys(interaction_type: str) -> list[Survey]:
    """Active customer surveys triggered by this interaction type, in creation order."""
    surveys = db.session.scalars(select(Survey).where(
        and_(Survey.active.is_(True), Survey.respondent == "customer")).order_by(Survey.id))
    return [s for s in surveys if interaction_type in (s.interaction_types or [])]


def _plan_invitations(row: Interaction) -> None:
    now = utcnow()
    contact = contact_of(row)
    opted_out = opted_out_pairs(contact)
    for survey in matching_surveys(row.type):
        plan = plan_invitation(
            survey=survey, contact=contact, ended_at=row.ended_at, now=now,
            draw_key=f"{row.source}\x1f{row.external_id}", opted_out=opted_out,
            recently_invited=_recently_invited(survey, row, now))
        row.invitations.append(Invitation(
            survey=survey, channel=plan.channel, address=plan.address,
            locale=contact.locale or "en", status=plan.status,
            suppressed_reason=plan.suppressed_reason, due_at=plan.due_at,
            expires_at=plan.expires_at, incentive_offered=plan.incentive_offered,
            holdout=plan.holdout))
