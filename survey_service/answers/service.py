"""Record an answer once, the same way for every way an answer arrives (rule 5).

The web form, the JSON API, an IVR keypress and an SMS reply all store their answer with one
statement built from the same parts (answer_target, answer_writes): the rules of answers.rules,
the invitation's open rule and the conditional UPDATE to `answered`. Each path returns a Recorded
and calls after_answer() once its transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import CTE, Integer, and_, bindparam, exists, func, insert, not_, select, true, update

from survey_service.answers import rules
from survey_service.answers.models import Conversation, Response, new_response_id
from survey_service.db import constant, utcnow
from survey_service.extensions import db
from survey_service.incentives import service as incentives
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, Status, answer_refusal, takes_answers
from survey_service.surveys.models import Survey
from survey_service.validation import storable

log = logging.getLogger(__name__)

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


def refusal_error(refusal: str) -> AnswerError:
    """The error for an answer_refusal() reason."""
    if refusal == "answered":
        return AlreadyAnswered("This survey has already been answered.")
    if refusal == "expired":
        return Expired("This survey has expired.")
    return NotOpen("This survey is not open.")


def open_state_error(inv, now: datetime) -> AnswerError | None:
    """Why this invitation (anything with status and expires_at) cannot take an answer now, or None."""
    refusal = answer_refusal(inv.status, inv.expires_at, now)
    return refusal_error(refusal) if refusal else None


@dataclass
class Answer:
    """What a channel hands in."""

    score: int
    channel: str
    reason: str | None = None
    anonymous: bool = False
    # An agent's effort answer may name its task (agents.service checks it against the survey's list).
    task: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What every answer path returns once its answer is stored: the input of after_answer()."""

    response_id: str
    invitation_id: int | None  # None: an agent's task-level answer, which has no invitation
    survey_id: int
    score: int
    anonymous: bool
    channel: str
    # Whether the invitation carried an incentive offer; None: not read, after_answer() looks.
    incentive_offered: bool | None = None


def clean_reason(reason: str | None) -> str | None:
    """A reason as stored: what cannot be stored dropped, trimmed, None when empty; too long refused."""
    reason = storable(reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise AnswerError(f"A reason may be at most {MAX_REASON} characters.", "reason")
    return reason


# -- the answer statement's parts -----------------------------------------------------------------

# Names of the target row that the writes read (besides those a path adds for itself).
TARGET = ("id", "channel", "locale", "survey_id", "interaction_id", "metric", "scale_min", "scale_max",
          "anonymity", "respondent", "itype", "agent_id", "team", "queue", "customer_id",
          "wants_anonymous")
_inv, _survey, _interaction, _conv = (Invitation.__table__, Survey.__table__, Interaction.__table__,
                                      Conversation.__table__)


def answer_target(where, *extra: str, aliases=None, newest: bool = False):
    """SELECT the invitation an answer is for, with its survey, interaction and conversation.

    `where` takes the four tables (or their aliases) and gives the condition; `extra` names more
    columns for the path's own use; `newest` keeps only the most recent match.
    """
    i, s, n, c = aliases or (_inv, _survey, _interaction, _conv)
    available = {
        "id": i.c.id, "channel": i.c.channel, "status": i.c.status, "expires_at": i.c.expires_at,
        "locale": i.c.locale,
        "survey_id": i.c.survey_id, "interaction_id": i.c.interaction_id, "metric": s.c.metric,
        "scale_min": s.c.scale_min, "scale_max": s.c.scale_max, "anonymity": s.c.anonymity,
        "respondent": s.c.respondent, "texts": s.c.texts, "itype": n.c.type.label("itype"),
        "agent_id": n.c.agent_id, "team": n.c.team, "queue": n.c.queue,
        "customer_id": n.c.customer_id, "conversation_id": c.c.id.label("conversation_id"),
        "wants_anonymous": c.c.wants_anonymous, "offered": i.c.incentive_offered.label("offered"),
    }
    query = (select(*(available[name] for name in (*TARGET, *extra)))
             .select_from(i.join(s, s.c.id == i.c.survey_id)
                          .join(n, n.c.id == i.c.interaction_id)
                          .outerjoin(c, c.c.invitation_id == i.c.id))
             .where(where(i, s, n, c)))
    if newest:
        query = (query.order_by(func.coalesce(i.c.sent_at, i.c.sending_at, i.c.created_at).desc(),
                                i.c.id.desc())
                 .limit(constant(1)))
    return query


def given_score(target):
    """SQL: the score the parameters give for this target; a yes/no scale takes `yes_no` first."""
    return rules.GivenScore.sql(bindparam("number", type_=Integer), bindparam("yes_no", type_=Integer),
                                target.c.scale_min, target.c.scale_max)


def asked(target):
    """SQL: the respondent asked for anonymity, in this answer or earlier in its conversation."""
    return rules.asked_anonymous(bindparam("anon", type_=_survey.c.active.type),
                                 target.c.wants_anonymous)


class Writes(NamedTuple):
    """The CTEs of answer_writes(), for a statement to select from."""

    take: CTE
    guard: CTE | None
    won: CTE
    stored: CTE


def answer_writes(target, *, reason, task=None, guard_of: Callable[[CTE], CTE] | None = None) -> Writes:
    """The answer's steps as CTEs over the `target` CTE, each running only if the one before did.

    1. take (k): the target with its score, anonymity and `now`, only if the survey takes them
       (rules.InScale, rules.RefusesAnonymity; anonymity decided by rules.StoredAnonymous);
    2. guard: `guard_of(take)`, when given, a CTE that must yield a row (the SMS MessageSid);
    3. won (w): the conditional UPDATE to `answered`, only while the invitation takes answers
       (invitations.models.takes_answers): of two answers at once, one wins;
    4. stored (r): the response row (rules.response_values, with `task` when given), only when
       `won` did.
    Parameters: number, yes_no, anon (asked for anonymity), response_id, way (the answer's channel),
    now. Names are short: the SMS statement must stay within psycopg's 4 kB parse cache.
    """
    score, wanted = given_score(target), asked(target)
    # `now` is sent once, into take, and read from there: each copy of the parameter costs the
    # statement a cast's length (psycopg's parse cache, see answers.sms).
    take = (select(*(target.c[name] for name in TARGET if name != "wants_anonymous"),
                   score.label("score"),
                   rules.StoredAnonymous.sql(target.c.anonymity, wanted).label("anonymous"),
                   bindparam("now", type_=_inv.c.answered_at.type).label("now"))
            .where(and_(rules.InScale.sql(score, target.c.scale_min, target.c.scale_max),
                        not_(rules.RefusesAnonymity.sql(target.c.anonymity, wanted))))
            .cte("k"))
    guard = guard_of(take) if guard_of is not None else None
    now = take.c.now
    won_if = [_inv.c.id == take.c.id, takes_answers(_inv, now)]
    if guard is not None:
        won_if.append(exists(select(guard.c[0])))
    won = (update(_inv).where(and_(*won_if))
           .values(status=constant(Status.ANSWERED.value), answered_at=now)
           .returning(_inv.c.id).cte("w"))
    columns = Response.__table__.c
    values = rules.response_values(
        take, response_id=bindparam("response_id", type_=columns.id.type),
        answer_channel=bindparam("way", type_=columns.answer_channel.type), now=now,
        reason=reason, task=task)
    stored = (insert(Response.__table__)
              .from_select(list(values), select(*values.values()).select_from(
                  take.join(won, won.c.id == take.c.id)))
              .returning(columns.id, columns.anonymous, columns.score).cte("r"))
    return Writes(take, guard, won, stored)


def answer_parameters(answer: Answer, now: datetime, *, yes_no: int | None = None) -> dict:
    """The parameters of answer_writes(), with a fresh response id."""
    return {"response_id": new_response_id(), "way": answer.channel, "now": now,
            "number": answer.score, "yes_no": yes_no, "anon": bool(answer.anonymous)}


# -- one invitation, by id: the web form, the JSON API and the IVR --------------------------------

_by_id = answer_target(lambda i, s, n, c: i.c.id == bindparam("invitation_id"),
                       "status", "expires_at", "offered").cte("t")
_stored = answer_writes(_by_id, reason=bindparam("reason", type_=Response.__table__.c.reason.type),
                        task=bindparam("task", type_=Response.__table__.c.task.type)).stored
_score = given_score(_by_id)
_ANSWER_BY_ID = (
    select(_by_id.c.id, _by_id.c.survey_id, _by_id.c.status, _by_id.c.expires_at,
           _by_id.c.scale_min, _by_id.c.scale_max, _by_id.c.offered,
           rules.InScale.sql(_score, _by_id.c.scale_min, _by_id.c.scale_max).label("in_scale"),
           rules.RefusesAnonymity.sql(_by_id.c.anonymity, asked(_by_id)).label("refused"),
           _stored.c.id.label("response_id"), _stored.c.anonymous)
    .select_from(_by_id.outerjoin(_stored, true())))


def record_answer(invitation_id: int, answer: Answer, now: datetime | None = None) -> Recorded:
    """Store one answer for the invitation exactly once; raises an AnswerError (nothing written) if not.

    One statement on the session's connection (the caller commits): the take, the conditional
    UPDATE and the INSERT of answer_writes(). What it refused is read from the same row: off the
    scale or an anonymity the survey refuses (422), else the invitation's state (409, 410, 404).
    """
    now = now or utcnow()
    reason = clean_reason(answer.reason)
    row = db.session.connection().execute(
        _ANSWER_BY_ID, {**answer_parameters(answer, now), "invitation_id": invitation_id,
                        "reason": reason, "task": answer.task}).first()
    if row is None:
        raise NotOpen("This survey is not open.")
    if row.response_id is None:
        if not row.in_scale:
            raise OutOfScale(f"Score must be between {row.scale_min} and {row.scale_max}.", "score")
        if row.refused:
            raise AnonymityNotAllowed("This survey does not take anonymous answers.", "anonymous")
        # Lost the UPDATE: its state now, or another answer won while this one was read.
        raise refusal_error(answer_refusal(row.status, row.expires_at, now) or "answered")
    return Recorded(row.response_id, row.id, row.survey_id, answer.score, row.anonymous,
                    answer.channel, row.offered)


def make_anonymous(response_id: str) -> bool:
    """Cut a stored answer's links to the person (an SMS ANON, IVR key 1) when its survey allows it.

    True when the answer is anonymous now. The same rules as when an answer is stored: a survey
    whose anonymity is `never` refuses, and the values are rules.made_anonymous().
    """
    responses = Response.__table__
    row = db.session.execute(
        update(responses)
        .where(and_(responses.c.id == response_id, _survey.c.id == responses.c.survey_id,
                    not_(rules.RefusesAnonymity.sql(_survey.c.anonymity, true()))))
        .values(**rules.made_anonymous(responses, _survey.c.respondent))
        .returning(responses.c.id)).first()
    return row is not None


def after_answer(recorded: Recorded | None) -> str | None:
    """The one step every answer path takes after its transaction commits; returns the code earned.

    Work that follows an answer hangs here, whichever way the answer came. It logs that an answer
    came, never the response or its score (an answer may still be made anonymous, SMS ANON or IVR
    key 1, and a log line must not tie it to the invitation); an anonymous one is logged without
    its invitation too, so that no line places the person's answer in time. Then the invitation's
    incentive code is issued, if it earned one, and handed to a task to send.
    """
    if recorded is None:
        return None
    if recorded.anonymous:
        log.info("anonymous answer recorded: survey %s, channel %s", recorded.survey_id,
                 recorded.channel)
    else:
        log.info("answer recorded: invitation %s, survey %s, channel %s",
                 recorded.invitation_id, recorded.survey_id, recorded.channel)
    if recorded.invitation_id is None:
        return None  # no invitation, so no offer
    return incentives.award(recorded.invitation_id, recorded.incentive_offered)


def response_body(response_id: str) -> dict:
    """An answer as the API shows it; an anonymous one shows no link to the person and only its day."""
    row = db.session.execute(
        select(Response, Survey.key).join(Survey, Survey.id == Response.survey_id)
        .where(Response.id == response_id)).one()
    response, survey_key = row
    answered = response.answered_at
    return {"id": response.id, "survey": survey_key, "metric": response.metric,
            "score": response.score, "reason": response.reason, "anonymous": response.anonymous,
            "channel": response.channel, "answer_channel": response.answer_channel,
            "answered_at": answered.date().isoformat() if response.anonymous else answered.isoformat()}

