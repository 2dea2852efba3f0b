"""Record an answer, once: record_answer for every path, and answer_ctes for the same writes in one
PostgreSQL statement (an SMS score). Both answer the invitation with the same conditional UPDATE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, insert, null, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from survey_service.answers.models import Response, new_response_id
from survey_service.db import constant, utcnow
from survey_service.extensions import db
from survey_service.invitations.models import ANSWERABLE, Invitation, Status

MAX_REASON = 2000


class AnswerError(Exception):
    """An answer that cannot be taken; `status` is the HTTP code, `field` what was wrong."""

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


class OutOfScale(AnswerError):
    status = 422


class AnonymityNotAllowed(AnswerError):
    status = 422


class AlreadyAnswered(AnswerError):
    status = 409


class Expired(AnswerError):
    status = 410


class NotOpen(AnswerError):
    """The invitation was never sent (or failed): there is nothing to answer."""

    status = 404


@dataclass
class Answer:
    """What a channel hands in."""

    score: int
    channel: str
    reason: str | None = None
    anonymous: bool = False
    recording_url: str | None = None


@dataclass(frozen=True)
class Target:
    """What an answer needs of its invitation, survey and interaction: plain values, no ORM state.

    record_answer also takes any row with these names (the SMS look-up selects them in one query).
    """

    id: int
    status: str
    expires_at: datetime | None
    locale: str | None
    survey_id: int
    metric: str
    scale_min: int
    scale_max: int
    anonymity: str
    interaction_id: int
    interaction_type: str | None
    agent_id: str | None
    team: str | None
    queue: str | None
    customer_id: str | None


def target_of(inv: Invitation) -> Target:
    """The Target of a loaded invitation (its survey and interaction are read here)."""
    survey, interaction = inv.survey, inv.interaction
    return Target(inv.id, inv.status, inv.expires_at, inv.locale, inv.survey_id, survey.metric,
                  survey.scale_min, survey.scale_max, survey.anonymity, interaction.id,
                  interaction.type, interaction.agent_id, interaction.team, interaction.queue,
                  interaction.customer_id)


def check(target, answer: Answer) -> bool:
    """Validate against the survey; returns whether the answer will be stored anonymously."""
    if not target.scale_min <= answer.score <= target.scale_max:
        raise OutOfScale(f"Score must be between {target.scale_min} and {target.scale_max}.",
                         "score")
    if answer.reason is not None and len(answer.reason) > MAX_REASON:
        raise AnswerError(f"A reason may be at most {MAX_REASON} characters.", "reason")
    if answer.anonymous and target.anonymity == "never":
        raise AnonymityNotAllowed("This survey does not take anonymous answers.", "anonymous")
    return target.anonymity == "always" or bool(answer.anonymous)


def open_state_error(inv, now: datetime) -> AnswerError | None:
    """Why this invitation (anything with status and expires_at) cannot take an answer now, or None."""
    if inv.status == Status.ANSWERED:
        return AlreadyAnswered("This survey has already been answered.")
    if inv.status == Status.EXPIRED or (inv.expires_at is not None and inv.expires_at <= now):
        return Expired("This survey has expired.")
    if inv.status not in ANSWERABLE:
        return NotOpen("This survey is not open.")
    return None


# The answer's statements are built once: building them per call cost more CPU than running them.
_inv = Invitation.__table__
# Equalities, not IN: an IN list is an expanding parameter whose SQL is re-rendered on every execution.
def answerable(invitations) -> ColumnElement:
    """SQL: the invitation (table or alias) can take an answer by its status."""
    return or_(*(invitations.c.status == constant(s.value) for s in sorted(ANSWERABLE)))


ANSWERABLE_ROW = answerable(_inv)
_ANSWER = (
    update(_inv)
    .where(and_(_inv.c.id == bindparam("answer_id"), ANSWERABLE_ROW,
                or_(_inv.c.expires_at.is_(None),
                    _inv.c.expires_at > bindparam("answer_now", type_=_inv.c.expires_at.type))))
    .values(status=Status.ANSWERED, answered_at=bindparam("answered_at", type_=_inv.c.answered_at.type)))
_STATE = select(_inv.c.status, _inv.c.expires_at).where(_inv.c.id == bindparam("state_id"))
_INSERT_RESPONSE = insert(Response.__table__)


def answer_ctes(take, guard):
    """record_answer's two writes as PostgreSQL CTEs, for one statement that also reads and does more.

    `take` is a CTE of at most one row with the names of Target plus `score` and `anonymous`, both
    already checked against the survey as check() does. `won` is the conditional UPDATE, run only when
    the `guard` CTE yields a row; `stored` inserts the response as build_response() would, only when
    `won` did. Parameters: response_id, answer_channel, answer_now and answer_today (its day).
    """
    won = (update(_inv)
           .where(and_(_inv.c.id == take.c.id, ANSWERABLE_ROW,
                       or_(_inv.c.expires_at.is_(None),
                           _inv.c.expires_at > bindparam("answer_now", type_=_inv.c.expires_at.type)),
                       exists(select(guard.c[0]))))
           .values(status=constant(Status.ANSWERED.value),
                   answered_at=bindparam("answer_now", type_=_inv.c.expires_at.type))
           .returning(_inv.c.id).cte("w"))
    anonymous = take.c.anonymous

    def linked(column):
        return case((anonymous, null()), else_=column)

    columns = Response.__table__.c
    values = {
        "id": bindparam("response_id", type_=columns.id.type), "survey_id": take.c.survey_id,
        "metric": take.c.metric, "score": take.c.score, "reason": null(), "recording_url": null(),
        "anonymous": anonymous, "channel": bindparam("answer_channel", type_=columns.channel.type),
        "interaction_type": take.c.interaction_type, "agent_id": take.c.agent_id,
        "team": take.c.team, "queue": take.c.queue, "locale": take.c.locale,
        "answered_at": case((anonymous, bindparam("answer_today", type_=columns.answered_at.type)),
                            else_=bindparam("answer_now", type_=columns.answered_at.type)),
        "invitation_id": linked(take.c.id), "interaction_id": linked(take.c.interaction_id),
        "customer_id": linked(take.c.customer_id),
    }
    stored = (insert(Response.__table__)
              .from_select(list(values), select(*values.values()).select_from(
                  take.join(won, won.c.id == take.c.id)))
              .returning(columns.id, columns.anonymous).cte("r"))
    return won, stored


def answer_parameters(channel: str, now: datetime) -> dict:
    """The parameters of answer_ctes(), with a fresh response id."""
    return {"response_id": new_response_id(), "answer_channel": channel, "answer_now": now,
            "answer_today": day_of(now)}


def day_of(moment: datetime) -> datetime:
    """The time an anonymous answer keeps: only its day (DESIGN 5)."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def state_error(connection, invitation_id: int, now: datetime) -> AnswerError:
    """Why an answer just lost its conditional UPDATE: answered, expired or not open."""
    state = connection.execute(_STATE, {"state_id": invitation_id}).one()
    return open_state_error(state, now) or AlreadyAnswered("This survey has already been answered.")


def record_answer(inv, answer: Answer, now: datetime | None = None) -> Response:
    """Store one answer for `inv` exactly once; raises an AnswerError (nothing written) if not.

    `inv` is an Invitation or a Target-shaped row. The invitation moves to `answered` with one
    conditional UPDATE; only the caller that wins it inserts the response (rule 5). The caller commits.
    """
    now = now or utcnow()
    loaded = inv if isinstance(inv, Invitation) else None
    target = target_of(inv) if loaded is not None else inv
    anonymous = check(target, answer)
    error = open_state_error(target, now)
    if error:
        raise error
    connection = db.session.connection()
    won = connection.execute(_ANSWER, {"answer_id": target.id, "answer_now": now,
                                       "answered_at": now}).rowcount == 1
    if not won:
        if loaded is not None:
            db.session.refresh(loaded)
            raise open_state_error(loaded, now) or AlreadyAnswered("This survey has already been answered.")
        raise state_error(connection, target.id, now)
    values = build_response(target, answer, anonymous, now)
    try:
        connection.execute(_INSERT_RESPONSE, values)
    except IntegrityError as exc:
        db.session.rollback()
        raise AlreadyAnswered("This survey has already been answered.") from exc
    if loaded is not None:
        # The UPDATE above is what the database holds; tell the loaded object without a re-read.
        set_committed_value(loaded, "status", Status.ANSWERED.value)
        set_committed_value(loaded, "answered_at", now)
    return Response(**values)


def build_response(target, answer: Answer, anonymous: bool, now: datetime) -> dict:
    """The stored row's values; an anonymous one has no link to the person and its time only to the day."""
    reason = (answer.reason or "").strip() or None
    linked = not anonymous
    return {
        "id": new_response_id(), "survey_id": target.survey_id, "metric": target.metric,
        "score": answer.score, "reason": reason, "recording_url": answer.recording_url,
        "anonymous": anonymous, "channel": answer.channel,
        "interaction_type": target.interaction_type, "agent_id": target.agent_id,
        "team": target.team, "queue": target.queue, "locale": target.locale,
        "answered_at": now if linked else day_of(now),
        "invitation_id": target.id if linked else None,
        "interaction_id": target.interaction_id if linked else None,
        "customer_id": target.customer_id if linked else None,
    }


def response_body(response: Response) -> dict:
    """An answer as the API shows it; anonymous answers show no link to the person."""
    body = {"id": response.id, "survey": None, "metric": response.metric,
            "score": response.score, "reason": response.reason,
            "anonymous": response.anonymous, "channel": response.channel,
            "answered_at": response.answered_at.isoformat()}
    from survey_service.surveys.models import Survey

    survey = db.session.get(Survey, response.survey_id)
    body["survey"] = survey.key if survey else None
    if response.anonymous:
        body["answered_at"] = response.answered_at.date().isoformat()
    return body
