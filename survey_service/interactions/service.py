"""Intake: record an ended interaction once, and plan an invitation for each matching survey."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import JSON, and_, bindparam, column, exists, func, insert, or_, select, true
from sqlalchemy.exc import IntegrityError

from survey_service.agents import service as agents
from survey_service.db import constant, utcnow
from survey_service.extensions import db
from survey_service.fastpath import DriverStatement, rollback_unit, unit_connection
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, OptOut, Status
from survey_service.invitations.policy import (
    CHANNEL_ADDRESS,
    Contact,
    plan_invitation,
    recently_invited,
)
from survey_service.invitations.service import address_key, on_opt_out_list
from survey_service.surveys.models import Survey


class ConflictingReplay(Exception):
    """The same source + external_id arrived before with a different body."""


def conflict_message(external_id: str) -> str:
    """What a client is told of a ConflictingReplay (the API's 409, an import's refused row)."""
    return (f"An interaction with external_id '{external_id}' from this source was already "
            "recorded with a different body.")


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
    """Store the event and its invitations; a replay returns the first body (idempotent).

    Planning reads first, then one write stores the event, its invitations and the body to give
    replays; the unique constraint on (source, external_id) finds replays and concurrent twins.
    """
    digest = fingerprint(data)
    values = _interaction_values(data, digest)
    connection = unit_connection()
    plans = _plan_invitations(connection, values)
    invitations = [{"survey": survey.key, "channel": plan.channel, "status": plan.status,
                    "due_at": _iso(plan.due_at), "suppressed_reason": plan.suppressed_reason}
                   for survey, plan in plans]
    body = {"interaction": _interaction_part(values), "invitations": invitations}
    try:
        ids = _store(connection, {**values, "first_body": body}, values["customer_locale"], plans)
    except IntegrityError:
        # A replay, or a concurrent request stored the same event first; nothing of ours was kept.
        rollback_unit()
        existing = find_interaction(data["source"], data["external_id"])
        if existing is None:
            raise
        return _replay(existing, digest)
    body["invitations"] = [{"id": inv_id, **item} for inv_id, item in zip(ids, invitations, strict=True)]
    return IntakeResult(body, created=True)


def _replay(existing: Interaction, digest: str) -> IntakeResult:
    if existing.request_hash != digest:
        raise ConflictingReplay(existing.external_id)
    if not existing.first_body:
        return IntakeResult(interaction_body(existing), created=False)
    # The first body was stored before its invitations had ids: they are found by survey.
    ids = {inv.survey.key: inv.id for inv in existing.invitations}
    body = {**existing.first_body, "invitations": [
        {"id": ids.get(item["survey"], item.get("id")), **{k: v for k, v in item.items() if k != "id"}}
        for item in existing.first_body["invitations"]]}
    return IntakeResult(body, created=False)


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
        "request_hash": digest, "created_at": utcnow(),
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

_PLANNED = ("survey_id", "channel", "address", "status", "suppressed_reason", "due_at", "expires_at",
            "wake_at", "incentive_offered", "holdout")
# An event is stored with its invitations in one statement: the interaction's INSERT as a CTE, and
# one invitation per element of a JSON array of planned rows (json_to_recordset): one parameter to
# send rather than an array per column.
_params = {c.name: bindparam(c.name, type_=c.type) for c in _int.c if c.name != "id"}
_new = insert(_int).values(_params).returning(_int.c.id).cte("new_interaction")
_planned = func.json_to_recordset(bindparam("planned", type_=JSON)).table_valued(
    *(column(name, _inv.c[name].type) for name in _PLANNED)).render_derived(name="planned",
                                                                            with_types=True)
_stored = (insert(_inv).from_select(
    ["interaction_id", "locale", "created_at", "attempts", "reminders_sent", *_PLANNED],
    select(_new.c.id, bindparam("planned_locale", type_=_inv.c.locale.type),
           bindparam("created_at", type_=_inv.c.created_at.type), constant(0), constant(0),
           *(_planned.c[name] for name in _PLANNED)).select_from(_new).join(_planned, true()))
    .returning(_inv.c.id, _inv.c.survey_id).cte("stored"))
# The agent directory learns the interaction's agent in the same statement (agents.service), only
# once the interaction is stored: a replay writes no agent either.
_store_statement = (select(_new.c.id, _stored.c.id.label("invitation_id"), _stored.c.survey_id)
             .select_from(_new.outerjoin(_stored, true()))
             .add_cte(*agents.directory_writes(_new, agent_id=_params["agent_id"], name=_params["agent_name"],
                                               team=_params["team"], now=_params["created_at"])))
_STORE = DriverStatement(_store_statement)

_who = {"customer_id": bindparam("who_id", type_=_int.c.customer_id.type),
        "phone": bindparam("who_phone", type_=_int.c.customer_phone.type),
        "email": bindparam("who_email", type_=_int.c.customer_email.type)}
# When this customer last had a non-suppressed invitation to each survey (the throttle compares it):
# their earlier interactions by index (id, phone, email; NULLs match nothing), then those invitations.
_last_invited = (
    select(_inv.c.survey_id, func.max(_inv.c.created_at).label("last_invited"))
    .select_from(_int.join(_inv, _inv.c.interaction_id == _int.c.id))
    .where(and_(or_(_int.c.customer_id == _who["customer_id"],
                    _int.c.customer_phone == _who["phone"],
                    _int.c.customer_email == _who["email"]),
                _inv.c.status != Status.SUPPRESSED))
    .group_by(_inv.c.survey_id).subquery("last_invited"))
# Whether the contact's address for each channel is on that channel's opt-out list.
_OPT_OUT_CHANNELS = tuple(CHANNEL_ADDRESS)
_who_key = {name: bindparam(f"who_{name}_key", type_=_opt.c.address_hash.type) for name in ("phone", "email")}
_opted_out = [exists().where(on_opt_out_list(_opt, channel, _who[CHANNEL_ADDRESS[channel]],
                                             _who_key[CHANNEL_ADDRESS[channel]]))
              .label(f"opted_out_{channel}") for channel in _OPT_OUT_CHANNELS]
# Active customer surveys with what planning needs, the throttle and the opt-outs: one round trip.
_planning = (select(_srv.c.id, _srv.c.key, _srv.c.interaction_types, _srv.c.channels,
                    _srv.c.throttle_days, _srv.c.sample_rate, _srv.c.delay_seconds,
                    _srv.c.quiet_hours, _srv.c.timezone, _srv.c.expires_after_seconds,
                    _srv.c.incentive, _last_invited.c.last_invited, *_opted_out)
             .select_from(_srv.outerjoin(_last_invited, _last_invited.c.survey_id == _srv.c.id))
             .where(and_(_srv.c.active.is_(True), _srv.c.respondent == "customer"))
             .order_by(_srv.c.id))
_PLANNING = DriverStatement(_planning)


def _plan_invitations(connection, v: dict) -> list[tuple]:
    """(survey, Plan) for each matching active survey, in survey order; one read, no writes."""
    now = v["created_at"]
    contact = Contact(phone=v["customer_phone"], email=v["customer_email"],
                      locale=v["customer_locale"], timezone=v["customer_timezone"])
    phone, email = v["customer_phone"], v["customer_email"]
    rows = _PLANNING.rows(connection, {"who_id": v["customer_id"], "who_phone": phone, "who_email": email,
                                       "who_phone_key": phone and address_key(phone),
                                       "who_email_key": email and address_key(email)})
    surveys = [r for r in rows if v["type"] in (r.interaction_types or [])]
    if not surveys:
        return []
    first = surveys[0]
    opted_out = {(channel, getattr(contact, CHANNEL_ADDRESS[channel]))
                 for channel in _OPT_OUT_CHANNELS if getattr(first, f"opted_out_{channel}")}
    draw_key = f"{v['source']}\x1f{v['external_id']}"
    return [(survey, plan_invitation(
        survey=survey, contact=contact, ended_at=v["ended_at"], now=now, draw_key=draw_key,
        opted_out=opted_out, recently_invited=recently_invited(survey.throttle_days,
                                                               survey.last_invited, now)))
        for survey in surveys]


def _store(connection, values: dict, locale: str | None, plans: list[tuple]) -> list[int]:
    """Write the interaction and its planned invitations; returns the invitation ids in plan order.

    One statement, atomic on its own: the interaction's INSERT as a CTE, and one invitation per
    element of a JSON array of planned rows. A replay raises IntegrityError and writes nothing.
    """
    planned = [{name: survey.id if name == "survey_id" else getattr(plan, name) for name in _PLANNED}
               for survey, plan in plans]
    for row in planned:  # JSON carries the times as ISO 8601; the recordset reads them back
        for name in ("due_at", "expires_at", "wake_at"):
            row[name] = _iso(row[name])
    rows = _STORE.rows(connection, {**values, "planned_locale": locale or "en", "planned": planned})
    by_survey = {row.survey_id: row.invitation_id for row in rows}
    return [by_survey[survey.id] for survey, _ in plans]
