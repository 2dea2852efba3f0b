"""The IVR survey's steps: a keypress for the score, then anonymity and a recorded reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from survey_service.answers import service
from survey_service.answers.conversations import close, conversation_for, refusal_name, start_reason_step
from survey_service.answers.models import Conversation, Response
from survey_service.answers.parsing import read_keypress
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation

# How long a caller has, after the score, to choose anonymity and record a reason.
VOICE_WINDOW = timedelta(minutes=15)


@dataclass
class VoiceStep:
    """The next thing to play: ask, invalid, anon, record, thanks, already, closed or no_survey.

    `recorded` is set on the step that stored the answer, for after_answer() once committed.
    """

    step: str
    invitation: Invitation | None = None
    recorded: service.Recorded | None = None


def start_call(invitation_id: int, call_sid: str, now: datetime | None = None) -> VoiceStep:
    """A call reached the survey: check the invitation is open and tie this call to it."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return VoiceStep("no_survey")
    error = service.open_state_error(inv, now)
    if error is not None:
        return VoiceStep(refusal_name(error), inv)
    conv = conversation_for(inv.id, "ivr")
    if conv.state == "score":
        conv.channel, conv.call_sid = "ivr", call_sid
    return VoiceStep("ask", inv)


def voice_score(invitation_id: int, call_sid: str, digits: str | None,
                now: datetime | None = None) -> VoiceStep:
    """The caller's keypress: record it once per CallSid, then go on to anonymity or the reason."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return VoiceStep("no_survey")
    conv = conversation_for(inv.id, "ivr")
    if conv.call_sid == call_sid and conv.state in ("anon", "record"):
        return VoiceStep(conv.state, inv)  # Twilio retried this webhook: the score is in
    if conv.call_sid == call_sid and conv.state == "closed":
        return VoiceStep("thanks", inv)
    score = read_keypress(digits, inv.survey.scale_min, inv.survey.scale_max)
    if score is None:
        return VoiceStep("invalid", inv)
    try:
        recorded = service.record_answer(inv.id, service.Answer(score=score, channel="ivr"), now=now)
    except service.AnswerError as error:
        return VoiceStep(refusal_name(error), inv)
    conv.channel, conv.call_sid = "ivr", call_sid
    start_reason_step(conv, recorded.response_id, VOICE_WINDOW, now,
                      state="anon" if inv.survey.anonymity == "optional" else "record")
    return VoiceStep(conv.state, inv, recorded)


def _call_conversation(invitation_id: int, call_sid: str) -> tuple[Invitation | None, Conversation | None]:
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return None, None
    conv = db.session.scalar(select(Conversation).where(
        and_(Conversation.invitation_id == inv.id, Conversation.call_sid == call_sid)))
    return inv, conv


def voice_anonymous(invitation_id: int, call_sid: str, digits: str | None) -> VoiceStep:
    """'Press 1 to make your answer anonymous'; any other key (or none) keeps it as it is."""
    inv, conv = _call_conversation(invitation_id, call_sid)
    if conv is None or conv.response_id is None:
        return VoiceStep("thanks", inv)
    if (digits or "").strip() == "1":
        service.make_anonymous(conv.response_id)
    if conv.state == "anon":
        conv.state = "record"
    return VoiceStep("record", inv)


def voice_reason(invitation_id: int, call_sid: str, recording_url: str | None) -> VoiceStep:
    """The recorded reason: its URL goes on the answer once; then the link to the answer is dropped."""
    inv, conv = _call_conversation(invitation_id, call_sid)
    if conv is not None and conv.response_id is not None and recording_url:
        db.session.execute(
            update(Response)
            .where(and_(Response.id == conv.response_id, Response.recording_url.is_(None)))
            .values(recording_url=recording_url[:500]).execution_options(synchronize_session=False))
    if conv is not None and conv.state != "score":
        close(conv)
    return VoiceStep("thanks", inv)
