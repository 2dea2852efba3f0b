"""Record an answer: the one function every answer path (web, JSON, SMS, IVR) goes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from survey_service.answers.models import Response
from survey_service.db import utcnow
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


def check(inv: Invitation, answer: Answer) -> bool:
    """Validate against the survey; returns whether the answer will be stored anonymously."""
    survey = inv.survey
    if not survey.in_scale(answer.score):
        raise OutOfScale(f"Score must be between {survey.scale_min} and {survey.scale_max}.",
                         "score")
    if answer.reason is not None and len(answer.reason) > MAX_REASON:
        raise AnswerError(f"A reason may be at most {MAX_REASON} characters.", "reason")
    if answer.anonymous and survey.anonymity == "never":
        raise AnonymityNotAllowed("This survey does not take anonymous answers.", "anonymous")
    return survey.anonymity == "always" or bool(answer.anonymous)


def open_state_error(inv: Invitation, now: datetime) -> AnswerError | None:
    """Why this invitation cannot take an answer now, or None if it can."""
    if inv.status == Status.ANSWERED:
        return AlreadyAnswered("This survey has already been answered.")
    if inv.status == Status.EXPIRED or (inv.expires_at is not None and inv.expires_at <= now):
        return Expired("This survey has expired.")
    if inv.status not in ANSWERABLE:
        return NotOpen("This survey is not open.")
    return None


def record_answer(inv: Invitation, answer: Answer, now: datetime | None = None) -> Response:
    """Store one answer for `inv` exactly once; raises an AnswerError (nothing written) if not.

    The invitation moves to `answered` with one conditional UPDATE; only the caller that wins it
    inserts the response (rule 5). The caller commits.
    """
    now = now or utcnow()
    anonymous = check(inv, answer)
    error = open_state_error(inv, now)
    if error:
        raise error
    won = db.session.execute(
        update(Invitation)
        .where(and_(Invitation.id == inv.id, Invitation.status.in_(list(ANSWERABLE)),
                    or_(Invitation.expires_at.is_(None), Invitation.expires_at > now)))
        .values(status=Status.ANSWERED, answered_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        db.session.refresh(inv)
        raise open_state_error(inv, now) or AlreadyAnswered("This survey has already been answered.")
    response = build_response(inv, answer, anonymous, now)
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise AlreadyAnswered("This survey has already been answered.") from exc
    # The UPDATE above is what the database holds; tell the loaded object without a re-read.
    set_committed_value(inv, "status", Status.ANSWERED.value)
    set_committed_value(inv, "answered_at", now)
    return response


def build_response(inv: Invitation, answer: Answer, anonymous: bool, now: datetime) -> Response:
    """The stored row; an anonymous one has no link to the person and its time only to the day."""
    interaction = inv.interaction
    reason = (answer.reason or "").strip() or None
    row = Response(
        survey_id=inv.survey_id, metric=inv.survey.metric, score=answer.score, reason=reason,
        recording_url=answer.recording_url, anonymous=anonymous, channel=answer.channel,
        interaction_type=interaction.type, agent_id=interaction.agent_id, team=interaction.team,
        queue=interaction.queue, locale=inv.locale,
        answered_at=now.replace(hour=0, minute=0, second=0, microsecond=0) if anonymous else now,
    )
    if not anonymous:
        row.invitation_id = inv.id
        row.interaction_id = interaction.id
        row.customer_id = interaction.customer_id
    return row


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
