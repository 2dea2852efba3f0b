"""An agent's own effort answer: about an interaction they handled (once, through its invitation) or a task.

An answer about an interaction goes through the effort survey's invitation for that interaction,
found or made here (effort_invitation), and then through answers.service.record_answer, the one
statement that keeps one answer per invitation and the anonymity rules. A task-level answer has no
invitation; its row is built by the same rules.response_values, so anonymity means the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, cast, insert, literal, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from survey_service.agents.models import Agent
from survey_service.answers import rules
from survey_service.answers import service as answers
from survey_service.answers.models import Response, new_response_id
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, Status
from survey_service.invitations.wake import wake_time
from survey_service.surveys.models import Survey

# The channel of an invitation to an agent: it waits in the agent's queue of open effort surveys
# (the agent page, the API, the shift digest), addressed by the agent id.
AGENT_CHANNEL = "agent"
ANSWER_CHANNEL = "web"  # the API, as for POST /api/v1/answers


class EffortError(Exception):
    """An effort answer that cannot be taken: `status` is the HTTP code, `field` what was wrong."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def effort_survey() -> Survey | None:
    """The active survey agents answer (SURVEY_AGENT_EFFORT_SURVEY, default aes-agent), if there is one."""
    key = current_app.config["AGENT_EFFORT_SURVEY"]
    return db.session.scalar(select(Survey).where(
        and_(Survey.key == key, Survey.active.is_(True), Survey.respondent == rules.AGENT_RESPONDENT)))


def check_task(survey: Survey, task: str | None) -> str | None:
    """The task as stored; EffortError (422 naming `task`) when the survey lists tasks without it."""
    if task is None or survey.tasks is None or task in survey.tasks:
        return task
    raise EffortError(422, f"Unknown task '{task}'; use one of: {', '.join(survey.tasks)}.", "task")


def effort_invitation(survey: Survey, interaction: Interaction, now: datetime) -> int:
    """The survey's invitation for the interaction, made (sent, to its agent) if missing; its id.

    One per interaction and survey (the invitations' unique key): a concurrent twin finds the row
    the other made. A row still `scheduled` (a delayed invitation to the agent) is opened now: the
    agent may answer before it would reach their queue. Any other row is left as it is, and the
    answer statement then judges it (answered 409, expired 410, never sent 404).
    """
    expires_at = now + timedelta(seconds=survey.expires_after_seconds)
    opened = {"status": Status.SENT.value, "sent_at": now, "expires_at": expires_at,
              "wake_at": wake_time(Status.SENT, expires_at=expires_at, now=now)}
    locale = db.session.scalar(select(Agent.locale).where(Agent.id == interaction.agent_id)) or "en"
    made = db.session.execute(
        pg_insert(Invitation)
        .values(interaction_id=interaction.id, survey_id=survey.id, channel=AGENT_CHANNEL,
                address=interaction.agent_id, locale=locale, due_at=now, created_at=now, attempts=0,
                reminders_sent=0, incentive_offered=False, holdout=False, **opened)
        .on_conflict_do_nothing(index_elements=["interaction_id", "survey_id"])
        .returning(Invitation.id)).scalar()
    if made is not None:
        return made
    row = db.session.execute(select(Invitation.id, Invitation.status).where(
        and_(Invitation.interaction_id == interaction.id, Invitation.survey_id == survey.id))).one()
    if row.status == Status.SCHEDULED:
        db.session.execute(update(Invitation).where(
            and_(Invitation.id == row.id, Invitation.status == Status.SCHEDULED.value)).values(**opened))
    return row.id


def answer_effort(agent_id: str, data: dict, now: datetime | None = None) -> answers.Recorded:
    """Store an agent's effort answer (the session's caller commits); EffortError or AnswerError if not.

    With `source` and `interaction_external_id`: only an interaction this agent handled (404
    unknown, 403 another agent's), once. Without: a task-level answer with the agent's team from
    the directory.
    """
    now = now or utcnow()
    survey = effort_survey()
    if survey is None:
        raise EffortError(404, "No active agent effort survey.")
    task = check_task(survey, data.get("task"))
    answer = answers.Answer(score=data["score"], channel=ANSWER_CHANNEL, reason=data.get("reason"),
                            anonymous=data.get("anonymous", False), task=task)
    if "interaction_external_id" not in data:
        return record_task_answer(survey, agent_id, answer, now)
    interaction = db.session.scalar(select(Interaction).where(and_(
        Interaction.source == data["source"], Interaction.external_id == data["interaction_external_id"])))
    if interaction is None:
        raise EffortError(404, f"No interaction '{data['interaction_external_id']}' from source "
                               f"'{data['source']}'.")
    if interaction.agent_id != agent_id:
        raise EffortError(403, "This interaction was handled by another agent.")
    return answers.record_answer(effort_invitation(survey, interaction, now), answer, now)


def record_task_answer(survey: Survey, agent_id: str, answer: answers.Answer,
                       now: datetime) -> answers.Recorded:
    """Store a task-level effort answer: the survey's scale and anonymity rules, no invitation.

    The row comes from rules.response_values over a one-row `take` of the agent's values, so an
    anonymous one keeps team and task and loses the agent and the hour, as every anonymous answer.
    """
    if not rules.InScale.py(answer.score, survey.scale_min, survey.scale_max):
        raise answers.OutOfScale(f"Score must be between {survey.scale_min} and {survey.scale_max}.",
                                 "score")
    if rules.RefusesAnonymity.py(survey.anonymity, answer.anonymous):
        raise answers.AnonymityNotAllowed("This survey does not take anonymous answers.", "anonymous")
    reason = answers.clean_reason(answer.reason)
    anonymous = rules.StoredAnonymous.py(survey.anonymity, answer.anonymous)
    agent = db.session.execute(select(Agent.team, Agent.locale).where(Agent.id == agent_id)).first()
    columns = Response.__table__.c

    def typed(value, name):
        return cast(literal(value, columns[name].type) if value is not None else null(), columns[name].type)

    take = select(
        typed(None, "invitation_id").label("id"), typed(AGENT_CHANNEL, "channel").label("channel"),
        typed(agent.locale if agent else None, "locale").label("locale"),
        typed(survey.id, "survey_id").label("survey_id"),
        typed(None, "interaction_id").label("interaction_id"),
        typed(survey.metric, "metric").label("metric"), literal(survey.respondent).label("respondent"),
        typed(None, "interaction_type").label("itype"),
        typed(agent_id, "agent_id").label("agent_id"),
        typed(agent.team if agent else None, "team").label("team"),
        typed(None, "queue").label("queue"), typed(None, "customer_id").label("customer_id"),
        typed(answer.score, "score").label("score"),
        typed(anonymous, "anonymous").label("anonymous")).cte("k")
    values = rules.response_values(
        take, response_id=bindparam("response_id", type_=columns.id.type),
        answer_channel=typed(ANSWER_CHANNEL, "answer_channel"),
        now=bindparam("now", type_=columns.answered_at.type), reason=typed(reason, "reason"),
        task=typed(answer.task, "task"))
    row = db.session.execute(
        insert(Response.__table__).from_select(list(values), select(*values.values()).select_from(take))
        .returning(columns.id, columns.anonymous),
        {"response_id": new_response_id(), "now": now}).one()
    return answers.Recorded(row.id, None, survey.id, answer.score, row.anonymous, ANSWER_CHANNEL, False)


def effort_body(response_id: str) -> dict:
    """An effort answer as the API shows it: the answer's body, its task, and its interaction if linked."""
    body = answers.response_body(response_id)
    row = db.session.execute(
        select(Response.task, Interaction.source, Interaction.external_id)
        .outerjoin(Interaction, Interaction.id == Response.interaction_id)
        .where(Response.id == response_id)).one()
    body["task"] = row.task
    if row.source is not None and not body["anonymous"]:
        body["interaction"] = {"source": row.source, "external_id": row.external_id}
    return body
