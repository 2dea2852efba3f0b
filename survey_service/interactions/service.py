"""Intake: record an ended interaction once, and plan an invitation for each matching survey."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, OptOut, Status
from survey_service.invitations.policy import (
    CHANNEL_ADDRESS,
    Contact,
    plan_invitation,
    recently_invited,
)
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


_BODY_COLUMNS = ("external_id", "source", "type", "ended_at", "customer_id", "customer_phone",
                 "customer_email", "customer_locale", "customer_timezone", "agent_id", "agent_name",
                 "team", "queue", "order_id", "order_amount", "order_currency", "attributes")


def _interaction_part(v: dict) -> dict:
    """The body's `interaction` object from the stored column values."""
    order = None
    if v["order_id"] or v["order_amount"] is not None:
        order = {"id": v["order_id"],
                 "amount": None if v["order_amount"] is None else f"{v['order_amount']:.2f}",
                 "currency": v["order_currency"]}
    return {
        "external_id": v["external_id"], "source": v["source"], "type": v["type"],
        "ended_at": _iso(v["ended_at"]),
        "customer": {"id": v["customer_id"], "phone": v["customer_phone"],
                     "email": v["customer_email"], "locale": v["customer_locale"],
                     "timezone": v["customer_timezone"]},
        "agent": {"id": v["agent_id"], "name": v["agent_name"], "team": v["team"]},
        "queue": v["queue"], "order": order, "attributes": v["attributes"] or {},
    }


def interaction_body(row: Interaction) -> dict:
    """The intake answer: the interaction as recorded and its invitations with their status."""
    return {"interaction": _interaction_part({c: getattr(row, c) for c in _BODY_COLUMNS}),
            "invitations": [invitation_body(inv) for inv in row.invitations]}


def find_interaction(source: str, external_id: str) -> Interaction | None:
    return db.session.scalar(select(Interaction).where(
        and_(Interaction.source == source, Interaction.external_id == external_id)))


def record_interaction(data: dict) -> IntakeResult:
    """Store the event and its invitations; a replay returns the first body (idempotent)."""
    digest = fingerprint(data)
    values = _interaction_values(data, digest)
    # Insert first: new events are the common case, and the unique constraint finds replays.
    try:
        interaction_id = db.session.execute(_INSERT_INTERACTION, values).scalar_one()
    except IntegrityError:
        # A replay, or a concurrent request stored the same event first. The caller owns the
        # session and has written nothing else in it, so rolling it back is safe.
        db.session.rollback()
        existing = find_interaction(data["source"], data["external_id"])
        if existing is None:
            raise
        return _replay(existing, digest)
    invitations = _plan_invitations(interaction_id, values)
    body = {"interaction": _interaction_part(values), "invitations": invitations}
    db.session.execute(_SET_FIRST_BODY, {"body_row_id": interaction_id, "first_body": body})
    return IntakeResult(body, created=True)


def _replay(existing: Interaction, digest: str) -> IntakeResult:
    if existing.request_hash != digest:
        raise ConflictingReplay(existing.external_id)
    return IntakeResult(existing.first_body or interaction_body(existing), created=False)


def _interaction_values(data: dict, digest: str) -> dict:
    """The interactions row of a normalised event, as INSERT parameters."""
    customer, agent, order = data.get("customer") or {}, data.get("agent") or {}, data.get("order") or {}
    return {
        "source": data["source"], "external_id": data["external_id"], "type": data["type"],
        "ended_at": data["ended_at"], "customer_id": customer.get("id"),
        "customer_phone": customer.get("phone"), "customer_email": customer.get("email"),
        "customer_locale": customer.get("locale"), "customer_timezone": customer.get("timezone"),
        "agent_id": agent.get("id"), "agent_name": agent.get("name"), "team": agent.get("team"),
        "queue": data.get("queue"), "order_id": order.get("id"), "order_amount": order.get("amount"),
        "order_currency": order.get("currency"), "attributes": data.get("attributes") or {},
        "request_hash": digest,
    }


def matching_surveys(interaction_type: str) -> list[Survey]:
    """Active customer surveys triggered by this interaction type, in creation order."""
    surveys = db.session.scalars(select(Survey).where(
        and_(Survey.active.is_(True), Survey.respondent == "customer")).order_by(Survey.id))
    return [s for s in surveys if interaction_type in (s.interaction_types or [])]


# Intake's statements are built once: building them on every request cost more CPU than running them.
_int = Interaction.__table__
_inv = Invitation.__table__
_opt = OptOut.__table__
_srv = Survey.__table__

_INSERT_INTERACTION = insert(_int).returning(_int.c.id)
_INSERT_INVITATIONS = insert(_inv).returning(_inv.c.id, sort_by_parameter_order=True)
_SET_FIRST_BODY = (update(_int).where(_int.c.id == bindparam("body_row_id"))
                   .values(first_body=bindparam("first_body", type_=_int.c.first_body.type)))

_who = {"customer_id": bindparam("who_id", type_=_int.c.customer_id.type),
        "phone": bindparam("who_phone", type_=_int.c.customer_phone.type),
        "email": bindparam("who_email", type_=_int.c.customer_email.type)}
# When this customer last had a non-suppressed invitation to each survey (the throttle compares it):
# their other interactions by index (id, phone, email; NULLs match nothing), then those invitations.
_last_invited = (
    select(_inv.c.survey_id, func.max(_inv.c.created_at).label("last_invited"))
    .select_from(_int.join(_inv, _inv.c.interaction_id == _int.c.id))
    .where(and_(or_(_int.c.customer_id == _who["customer_id"],
                    _int.c.customer_phone == _who["phone"],
                    _int.c.customer_email == _who["email"]),
                _int.c.id != bindparam("who_row_id"),
                _inv.c.status != Status.SUPPRESSED))
    .group_by(_inv.c.survey_id).subquery("last_invited"))
# Whether the contact's address for each channel is on that channel's opt-out list.
_OPT_OUT_CHANNELS = tuple(CHANNEL_ADDRESS)
_opted_out = [exists().where(and_(_opt.c.channel == channel,
                                  _opt.c.address == _who[CHANNEL_ADDRESS[channel]]))
              .label(f"opted_out_{channel}") for channel in _OPT_OUT_CHANNELS]
# Active customer surveys with what planning needs, the throttle and the opt-outs: one round trip.
_PLANNING = (select(_srv.c.id, _srv.c.key, _srv.c.interaction_types, _srv.c.channels,
                    _srv.c.throttle_days, _srv.c.sample_rate, _srv.c.delay_seconds,
                    _srv.c.quiet_hours, _srv.c.timezone, _srv.c.expires_after_seconds,
                    _srv.c.incentive, _last_invited.c.last_invited, *_opted_out)
             .select_from(_srv.outerjoin(_last_invited, _last_invited.c.survey_id == _srv.c.id))
             .where(and_(_srv.c.active.is_(True), _srv.c.respondent == "customer"))
             .order_by(_srv.c.id))


def _plan_invitations(interaction_id: int, v: dict) -> list[dict]:
    """Insert an invitation per matching survey; returns their bodies in survey order."""
    now = utcnow()
    contact = Contact(phone=v["customer_phone"], email=v["customer_email"],
                      locale=v["customer_locale"], timezone=v["customer_timezone"])
    rows = db.session.execute(_PLANNING, {
        "who_id": v["customer_id"], "who_phone": v["customer_phone"],
        "who_email": v["customer_email"], "who_row_id": interaction_id}).all()
    surveys = [r for r in rows if v["type"] in (r.interaction_types or [])]
    if not surveys:
        return []
    first = surveys[0]
    opted_out = {(channel, getattr(contact, CHANNEL_ADDRESS[channel]))
                 for channel in _OPT_OUT_CHANNELS if getattr(first, f"opted_out_{channel}")}
    draw_key = f"{v['source']}\x1f{v['external_id']}"
    plans = [(survey, plan_invitation(
        survey=survey, contact=contact, ended_at=v["ended_at"], now=now, draw_key=draw_key,
        opted_out=opted_out, recently_invited=recently_invited(survey.throttle_days,
                                                               survey.last_invited, now)))
        for survey in surveys]
    locale = contact.locale or "en"
    ids = db.session.scalars(_INSERT_INVITATIONS, [
        {"interaction_id": interaction_id, "survey_id": survey.id, "channel": plan.channel,
         "address": plan.address, "locale": locale, "status": plan.status,
         "suppressed_reason": plan.suppressed_reason, "due_at": plan.due_at,
         "expires_at": plan.expires_at, "incentive_offered": plan.incentive_offered,
         "holdout": plan.holdout, "created_at": now} for survey, plan in plans]).all()
    return [{"id": inv_id, "survey": survey.key, "channel": plan.channel, "status": plan.status,
             "due_at": _iso(plan.due_at), "suppressed_reason": plan.suppressed_reason}
            for inv_id, (survey, plan) in zip(ids, plans, strict=True)]
