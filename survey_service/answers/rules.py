"""What an answer may be and how it is stored: each rule once, its Python and SQL forms side by side.

The SQL forms run inside the one answer statement (answers.service) that every way of answering
uses; the Python forms serve pages and replies that decide before anything is stored. A parity
test evaluates each pair over every input and expects the same result from both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, false, func, null, or_, true

from survey_service.db import constant

# The columns that tie an answer to a person; an anonymous answer has none of them (DESIGN 5).
# On a survey answered by agents the agent is the person too (KeptAgent).
LINKED = ("invitation_id", "interaction_id", "customer_id")
AGENT_RESPONDENT = "agent"


class GivenScore:
    """The score a reply gives: on a yes/no (0-1) scale a yes/no word first, else its number."""

    @staticmethod
    def py(number: int | None, yes_no: int | None, scale_min: int, scale_max: int) -> int | None:
        if (scale_min, scale_max) == (0, 1) and yes_no is not None:
            return yes_no
        return number

    @staticmethod
    def sql(number, yes_no, scale_min, scale_max) -> ColumnElement:
        yes_no_scale = and_(scale_min == constant(0), scale_max == constant(1))
        return case((yes_no_scale, func.coalesce(yes_no, number)), else_=number)


class InScale:
    """A score lies on the survey's scale, both ends included."""

    @staticmethod
    def py(score: int, scale_min: int, scale_max: int) -> bool:
        return scale_min <= score <= scale_max

    @staticmethod
    def sql(score, scale_min, scale_max) -> ColumnElement:
        return score.between(scale_min, scale_max)


class RefusesAnonymity:
    """A survey whose anonymity is `never` refuses an answer that asks to be anonymous."""

    @staticmethod
    def py(anonymity: str, asked: bool) -> bool:
        return anonymity == "never" and bool(asked)

    @staticmethod
    def sql(anonymity, asked) -> ColumnElement:
        return and_(anonymity == constant("never"), asked)


class StoredAnonymous:
    """An answer is stored anonymously when its survey says `always` or the respondent asked."""

    @staticmethod
    def py(anonymity: str, asked: bool) -> bool:
        return anonymity == "always" or bool(asked)

    @staticmethod
    def sql(anonymity, asked) -> ColumnElement:
        return or_(anonymity == constant("always"), asked)


class KeptTime:
    """The time an answer keeps: the moment, or for an anonymous answer only its day (in UTC)."""

    @staticmethod
    def py(moment: datetime, anonymous: bool) -> datetime:
        if not anonymous:
            return moment
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    @staticmethod
    def sql(moment, anonymous) -> ColumnElement:
        return case((anonymous, func.date_trunc(constant("day"), moment, constant("UTC"))), else_=moment)


class KeptAgent:
    """The agent an answer keeps: none on an anonymous answer to a survey agents answer (DESIGN 5).

    A customer's anonymous answer keeps the agent who served them (scoring needs it); an agent's
    anonymous answer keeps their team and task, not who they are.
    """

    @staticmethod
    def py(agent_id: str | None, anonymous: bool, respondent: str) -> str | None:
        return None if anonymous and respondent == AGENT_RESPONDENT else agent_id

    @staticmethod
    def sql(agent_id, anonymous, respondent) -> ColumnElement:
        return case((and_(anonymous, respondent == constant(AGENT_RESPONDENT)), null()), else_=agent_id)


def response_values(take, *, response_id, answer_channel, now, reason, task=None) -> dict:
    """SQL: the columns of the response stored from `take` (a row of the answer statement).

    `take` carries the target's names (answers.service; `itype` the interaction's type) plus `score`
    and `anonymous`, the latter already decided by StoredAnonymous; linking columns are NULL (and the
    agent, KeptAgent, when the survey's `respondent` is an agent) and the time kept to the day when
    it is set. `channel` is the invitation's, `answer_channel` the way the answer came back;
    `recording_url` is left to its default (NULL), set later by the voice path; `task` an agent's
    task label.
    """
    anonymous = take.c.anonymous
    values = {
        "id": response_id, "survey_id": take.c.survey_id, "metric": take.c.metric,
        "score": take.c.score, "reason": reason, "anonymous": anonymous,
        "channel": take.c.channel, "answer_channel": answer_channel,
        "interaction_type": take.c.itype,
        "agent_id": KeptAgent.sql(take.c.agent_id, anonymous, take.c.respondent),
        "team": take.c.team, "queue": take.c.queue,
        "locale": take.c.locale, "answered_at": KeptTime.sql(now, anonymous),
    }
    targets = {"invitation_id": take.c.id, "interaction_id": take.c.interaction_id,
               "customer_id": take.c.customer_id}
    values.update({name: case((anonymous, null()), else_=targets[name]) for name in LINKED})
    if task is not None:  # left out otherwise: the SMS statement stays short (tests/twilio)
        values["task"] = task
    return values


def made_anonymous(responses, respondent) -> dict:
    """SQL: the values that turn a stored answer anonymous afterwards (an SMS ANON, IVR key 1).

    `respondent` is the answer's survey's (an SQL expression), for KeptAgent.
    """
    return {"anonymous": true(), "answered_at": KeptTime.sql(responses.c.answered_at, true()),
            "agent_id": KeptAgent.sql(responses.c.agent_id, true(), respondent),
            **{name: null() for name in LINKED}}


def asked_anonymous(asked, wants_anonymous) -> ColumnElement:
    """SQL: the respondent asked for anonymity now or earlier in the conversation (ANON first)."""
    return or_(asked, func.coalesce(wants_anonymous, false()))
