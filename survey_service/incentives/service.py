"""Incentive codes: who earns one (one rule), issuing it once, showing it again, and redeeming it.

A code is earned by an answered invitation that carried the offer (`incentive_offered`; held-out
invitations never do) and was answered within the survey's `incentive.window_seconds` of the
invitation's `sent_at`, both ends included: an answer exactly `window_seconds` after the send still
earns it. The window is a count of seconds between two instants, so midnight and daylight-saving
changes never stretch or shrink it. The window is the survey's as the answer arrives; a survey whose
incentive was removed issues no more codes. Anonymous answers earn the code too: it belongs to the
invitation (see models.IncentiveCode).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, bindparam, exists, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert

from survey_service.db import utcnow
from survey_service.extensions import celery, db
from survey_service.incentives import codes, stats
from survey_service.incentives.models import IncentiveCode
from survey_service.invitations.models import Invitation
from survey_service.surveys.models import Survey

log = logging.getLogger(__name__)

SEND_TASK = "survey.send_incentive"
DEFAULT_CODE_DAYS = 90
_codes, _inv, _survey = IncentiveCode.__table__, Invitation.__table__, Survey.__table__


def qualifies(invitations, surveys) -> ColumnElement:
    """SQL: the invitation has earned its survey's incentive (the module's rule, written once)."""
    window = surveys.c.incentive["window_seconds"].as_integer()
    return and_(invitations.c.incentive_offered, invitations.c.answered_at.is_not(None),
                invitations.c.sent_at.is_not(None), window.is_not(None),
                invitations.c.answered_at
                <= invitations.c.sent_at + window * literal_column("interval '1 second'"))


def code_days() -> int:
    """How many days a code can be redeemed after it was issued (SURVEY_INCENTIVE_CODE_DAYS)."""
    return int(current_app.config.get("INCENTIVE_CODE_DAYS") or DEFAULT_CODE_DAYS)


@dataclass(frozen=True)
class Earned:
    """An invitation's code: `sent` once a channel has carried it (or an SMS reply is about to)."""

    id: int
    code: str
    sent: bool
    expires_at: datetime


_qualifying = (select(_inv.c.id, _inv.c.survey_id)
               .select_from(_inv.join(_survey, _survey.c.id == _inv.c.survey_id))
               .where(and_(_inv.c.id == bindparam("invitation_id"), qualifies(_inv, _survey))))
_q = _qualifying.subquery("q")
_new = (insert(_codes).from_select(
    ["invitation_id", "survey_id", "code", "issued_at", "expires_at", "sent_at"],
    select(_q.c.id, _q.c.survey_id,
           bindparam("code", type_=_codes.c.code.type), bindparam("now", type_=_codes.c.issued_at.type),
           bindparam("expires_at", type_=_codes.c.expires_at.type),
           bindparam("sent_at", type_=_codes.c.sent_at.type)))
    .on_conflict_do_nothing()  # on the invitation (issued before) or the code (drawn twice)
    .returning(_codes.c.id, _codes.c.code, _codes.c.sent_at, _codes.c.expires_at)
    .cte("n"))
# The new row, else the one issued before (the statement's snapshot does not see its own insert).
_ISSUE = (select(_new.c.id, _new.c.code, _new.c.sent_at, _new.c.expires_at)
          .union_all(select(_codes.c.id, _codes.c.code, _codes.c.sent_at, _codes.c.expires_at)
                     .where(_codes.c.invitation_id == bindparam("invitation_id"))))
_QUALIFIES = select(exists(_qualifying))


def issue(invitation_id: int, now: datetime | None = None, *, carried: bool = False) -> Earned | None:
    """The invitation's code, issued now if it qualifies and has none; None when it earned none.

    Idempotent: INSERT ... SELECT (the rule) ... ON CONFLICT DO NOTHING, which also reads the code
    issued earlier. `carried`: the caller's own reply carries the code (an SMS answer), so it is
    marked sent and no message of its own goes out. On the session's connection; the caller commits.
    """
    now = now or utcnow()
    connection = db.session.connection()
    for _ in range(3):
        row = connection.execute(_ISSUE, {
            "invitation_id": invitation_id, "code": codes.new_code(), "now": now,
            "expires_at": now + timedelta(days=code_days()), "sent_at": now if carried else None,
        }).first()
        if row is not None:
            return Earned(row.id, row.code, row.sent_at is not None, row.expires_at)
        if not connection.execute(_QUALIFIES, {"invitation_id": invitation_id}).scalar():
            return None
        # It qualifies yet nothing was stored: the new code was already taken (or a twin call won).
    raise RuntimeError(f"no free incentive code for invitation {invitation_id}")


def award(invitation_id: int, offered: bool | None = None) -> str | None:
    """After an answer commits: issue the invitation's code, commit, and have a task send it.

    `offered` False (the invitation carried no offer) skips the database. Returns the code, for the
    JSON answer's body; the answer's own request never waits on a provider.
    """
    if offered is False:
        return None
    earned = issue(invitation_id)
    db.session.commit()
    if earned is None:
        return None
    if not earned.sent:
        enqueue_send(earned.id)
    return earned.code


def enqueue_send(code_id: int) -> None:
    """Hand the code's message to the send task; a broker that is down leaves it to the sweep."""
    try:
        celery.send_task(SEND_TASK, args=[code_id], retry=True,
                         retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2})
    except Exception as exc:  # the broker's many error types: the sweep (pending_sends) covers them
        log.warning("incentive code %s: not enqueued (%s); the sweep sends it", code_id,
                    type(exc).__name__)


def earned_code(invitation_id: int) -> str | None:
    """The code the invitation earned, for the thank-you page (shown again on every reload)."""
    return db.session.scalar(select(IncentiveCode.code)
                             .where(IncentiveCode.invitation_id == invitation_id))


def pending_sends(older_than: timedelta = timedelta(seconds=30), now: datetime | None = None,
                  limit: int = 500) -> list[int]:
    """Codes no task has claimed yet, issued a while ago: the answer's own enqueue was lost."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(IncentiveCode.id)
        .where(and_(IncentiveCode.sending_at.is_(None), IncentiveCode.sent_at.is_(None),
                    IncentiveCode.send_failure.is_(None),
                    IncentiveCode.issued_at <= now - older_than))
        .order_by(IncentiveCode.id).limit(limit)))


# -- redemption -----------------------------------------------------------------------------------


class RedeemError(Exception):
    """A redemption refused; `status` is the HTTP code."""

    status = 400


class UnknownCode(RedeemError):
    status = 404


class RedeemedElsewhere(RedeemError):
    status = 409


class CodeExpired(RedeemError):
    status = 410


def state(row: IncentiveCode, survey_key: str, now: datetime) -> dict:
    """A code as the API shows it."""
    if row.redeemed_at is not None:
        status = "redeemed"
    elif row.expires_at <= now:
        status = "expired"
    else:
        status = "valid"
    return {"code": row.code, "survey": survey_key, "status": status, "issued_at": row.issued_at,
            "expires_at": row.expires_at, "redeemed_at": row.redeemed_at, "order_id": row.order_id}


def redeem(raw_code: str, order_id: str, now: datetime | None = None) -> dict:
    """Redeem a code for an order, once: the same order again is the same answer (idempotent).

    One conditional UPDATE ... WHERE redeemed_at IS NULL AND expires_at > now decides: of two
    redemptions at once, one wins and the other then reads the winner's row. A code can be redeemed
    until its `expires_at` (exclusive).
    """
    now = now or utcnow()
    code = codes.normalize(raw_code)
    if code is None:
        raise UnknownCode("No incentive code reads like this.")
    db.session.execute(
        update(IncentiveCode)
        .where(and_(IncentiveCode.code == code, IncentiveCode.redeemed_at.is_(None),
                    IncentiveCode.expires_at > now))
        .values(redeemed_at=now, order_id=order_id)
        .execution_options(synchronize_session=False))
    found = db.session.execute(
        select(IncentiveCode, Survey.key).join(Survey, Survey.id == IncentiveCode.survey_id)
        .where(IncentiveCode.code == code)).first()
    if found is None:
        raise UnknownCode("No such incentive code.")
    row, survey_key = found
    db.session.refresh(row)
    if row.redeemed_at is None:
        raise CodeExpired("This incentive code has expired.")
    if row.order_id != order_id:
        raise RedeemedElsewhere("This incentive code was redeemed for another order.")
    return state(row, survey_key, now)




# -- stats ----------------------------------------------------------------------------------------


class UnknownSurvey(Exception):
    """The stats were asked for a survey key that does not exist."""


def incentive_stats(survey_key: str | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> dict:
    """The incentive funnel and the holdout lift over invitations sent in [start, end).

    Both arms count invitations sent (`sent_at` set: accepted by a provider, answered ones
    included), since an offer never sent was never made: `offered` carried the offer, `held_out`
    were sent without it. A response rate is the arm's answered invitations over its sent ones;
    `earned` and `redeemed` count the codes of the offered arm's invitations.
    """
    inv = Invitation
    conditions = [inv.sent_at.is_not(None), (inv.incentive_offered | inv.holdout)]
    if survey_key is not None:
        survey_id = db.session.scalar(select(Survey.id).where(Survey.key == survey_key))
        if survey_id is None:
            raise UnknownSurvey(survey_key)
        conditions.append(inv.survey_id == survey_id)
    if start is not None:
        conditions.append(inv.sent_at >= start)
    if end is not None:
        conditions.append(inv.sent_at < end)
    answered = inv.answered_at.is_not(None)
    row = db.session.execute(
        select(func.count().filter(inv.incentive_offered).label("offered"),
               func.count().filter(inv.holdout).label("held_out"),
               func.count().filter(and_(inv.incentive_offered, answered)).label("responded_offer"),
               func.count().filter(and_(inv.holdout, answered)).label("responded_holdout"),
               func.count(IncentiveCode.id).label("earned"),
               func.count(IncentiveCode.redeemed_at).label("redeemed"))
        .select_from(inv).outerjoin(IncentiveCode, IncentiveCode.invitation_id == inv.id)
        .where(and_(*conditions))).one()
    return stats.figures(**row._asdict())
