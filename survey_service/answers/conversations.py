"""The conversation row of an SMS or voice survey: score first, then an optional reason step.

`response_id` is the only link from an invitation to an anonymous answer, so it is kept only while
the reason step is open (`open_until`) and cleared when it closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from survey_service.answers import service
from survey_service.answers.models import Conversation
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.upsert import insert_if_absent


def conversation_for(invitation_id: int, channel: str) -> Conversation:
    """The invitation's conversation row, created on first use (safe under concurrent webhooks)."""
    query = select(Conversation).where(Conversation.invitation_id == invitation_id)
    conv = db.session.scalar(query)
    if conv is None:
        insert_if_absent(Conversation, invitation_id=invitation_id, channel=channel, state="score",
                         reprompts=0, wants_anonymous=False, created_at=utcnow())
        conv = db.session.scalar(query)
    return conv


def start_reason_step(conv: Conversation, response_id: str, window: timedelta, now: datetime,
                      state: str = "reason") -> None:
    """After the score: keep the link to the answer while the reason (or anonymity) step is open."""
    conv.state, conv.response_id, conv.open_until = state, response_id, now + window


def close(conv: Conversation) -> None:
    """End the reason step: the link to the response is dropped for good."""
    conv.state, conv.response_id, conv.open_until = "closed", None, None


def forget_closed(now: datetime | None = None) -> int:
    """Close conversations whose reason window has passed; returns how many links were dropped."""
    now = now or utcnow()
    return db.session.execute(
        update(Conversation)
        .where(and_(Conversation.open_until <= now, Conversation.state != "closed"))
        .values(state="closed", response_id=None, open_until=None)).rowcount or 0


def refusal_name(error: service.AnswerError) -> str:
    """The short name a reply or prompt uses for a refused answer: already, closed or no_survey."""
    if isinstance(error, service.AlreadyAnswered):
        return "already"
    if isinstance(error, service.Expired):
        return "closed"
    return "no_survey"
