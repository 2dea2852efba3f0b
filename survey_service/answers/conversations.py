"""SMS and voice conversations: score first, then an optional reason and anonymity choice.

Every score goes through answers.service.record_answer. The conversation row keeps the link to
the stored response only while the reason step is open, so anonymous answers become unlinkable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import DateTime, and_, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from survey_service.answers import service
from survey_service.answers.models import Conversation, InboundMessage, Response
from survey_service.answers.parsing import Reply, guess_locale, parse_reply, read_keypress
from survey_service.db import unit_connection, utcnow
from survey_service.extensions import db
from survey_service.i18n import gettext, normalize_locale, survey_text
from survey_service.interactions.models import Interaction
from survey_service.invitations import service as invitations
from survey_service.invitations.models import ANSWERABLE, Invitation, Status
from survey_service.surveys.models import Survey
from survey_service.upsert import insert_if_absent

log = logging.getLogger(__name__)

# How long a caller has, after the score, to choose anonymity and record a reason.
VOICE_WINDOW = timedelta(minutes=15)


# --- shared -------------------------------------------------------------------------------------

def conversation_for(inv: Invitation, channel: str) -> Conversation:
    """The invitation's conversation row, created on first use (safe under concurrent webhooks)."""
    query = select(Conversation).where(Conversation.invitation_id == inv.id)
    conv = db.session.scalar(query)
    if conv is None:
        insert_if_absent(Conversation, invitation_id=inv.id, channel=channel, state="score",
                         reprompts=0, wants_anonymous=False, created_at=utcnow())
        conv = db.session.scalar(query)
    return conv


def make_anonymous(response_id: str) -> bool:
    """Cut an answer's links to the person (DESIGN 5) when its survey allows anonymity."""
    response = db.session.get(Response, response_id)
    if response is None or response.anonymous:
        return response is not None
    if db.session.get(Survey, response.survey_id).anonymity == "never":
        return False
    response.anonymous = True
    response.invitation_id = response.interaction_id = response.customer_id = None
    response.answered_at = response.answered_at.replace(hour=0, minute=0, second=0, microsecond=0)
    return True


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


def _start_reason_step(conv: Conversation, response: Response, window: timedelta, now: datetime,
                       state: str = "reason") -> None:
    conv.state, conv.response_id, conv.open_until = state, response.id, now + window


def _record(inv: Invitation, score: int, channel: str, anonymous: bool, now: datetime):
    """record_answer, turning its refusals into a short outcome name."""
    try:
        return service.record_answer(inv, service.Answer(score=score, channel=channel,
                                                         anonymous=anonymous), now=now), None
    except service.AlreadyAnswered:
        return None, "already"
    except service.Expired:
        return None, "closed"
    except service.AnswerError:
        return None, "no_survey"


# --- SMS ----------------------------------------------------------------------------------------

@dataclass
class SmsReply:
    """What to text back (None: nothing) and in which language."""

    text: str | None
    locale: str = "en"


def first_time(message_sid: str) -> bool:
    """Remember an inbound MessageSid; False if it was handled before (a webhook retry)."""
    return insert_if_absent(InboundMessage, message_sid=message_sid, received_at=utcnow())


def _sms_invitations(phone: str):
    return select(Invitation).where(and_(Invitation.channel == "sms", Invitation.address == phone))


# The common reply, a score for the newest open invitation, reads everything it needs in one
# statement, built once: the invitation, its survey and interaction, and its conversation if any.
_inv, _conv = Invitation.__table__, Conversation.__table__
_survey, _interaction = Survey.__table__, Interaction.__table__
_NEWEST_OPEN = (
    select(_inv.c.id, _inv.c.status, _inv.c.expires_at, _inv.c.locale, _inv.c.survey_id,
           _inv.c.interaction_id, _survey.c.metric, _survey.c.scale_min, _survey.c.scale_max,
           _survey.c.anonymity, _survey.c.texts, _interaction.c.type.label("interaction_type"),
           _interaction.c.agent_id, _interaction.c.team, _interaction.c.queue,
           _interaction.c.customer_id, _conv.c.id.label("conversation_id"),
           _conv.c.wants_anonymous)
    .select_from(_inv.join(_survey, _survey.c.id == _inv.c.survey_id)
                 .join(_interaction, _interaction.c.id == _inv.c.interaction_id)
                 .outerjoin(_conv, _conv.c.invitation_id == _inv.c.id))
    .where(and_(_inv.c.channel == "sms", _inv.c.address == bindparam("phone"),
                service.ANSWERABLE_ROW,
                or_(_inv.c.expires_at.is_(None),
                    _inv.c.expires_at > bindparam("now", type_=DateTime()))))
    .order_by(func.coalesce(_inv.c.sent_at, _inv.c.sending_at, _inv.c.created_at).desc(),
              _inv.c.id.desc())
    .limit(1))
# The reason step, opened on an existing conversation (or one another webhook just created).
_OPEN_REASON = (
    update(_conv).where(_conv.c.invitation_id == bindparam("conv_invitation_id"))
    .values(state="reason", response_id=bindparam("conv_response_id"),
            open_until=bindparam("conv_open_until", type_=DateTime())))

# On PostgreSQL a score by SMS is one statement: remember the MessageSid (a retry stops here),
# record the answer (answers.service.answer_ctes) and open the reason step on the conversation.
_fresh = (pg_insert(InboundMessage.__table__)
          .values(message_sid=bindparam("message_sid"), received_at=bindparam("answer_now"))
          .on_conflict_do_nothing(index_elements=["message_sid"])
          .returning(InboundMessage.__table__.c.id).cte("fresh"))
_won, _stored = service.answer_ctes(_fresh)
_reason_row = pg_insert(_conv).from_select(
    ["invitation_id", "channel", "state", "reprompts", "wants_anonymous", "response_id", "open_until",
     "created_at"],
    select(bindparam("answer_id", type_=_conv.c.invitation_id.type), literal("sms"), literal("reason"),
           literal(0), literal(False), _stored.c.id,
           bindparam("conv_open_until", type_=_conv.c.open_until.type),
           bindparam("answer_now", type_=_conv.c.created_at.type)).select_from(_stored))
_opened = (_reason_row.on_conflict_do_update(
    index_elements=["invitation_id"],
    set_={"state": "reason", "response_id": _reason_row.excluded.response_id,
          "open_until": _reason_row.excluded.open_until})
    .returning(_conv.c.id).cte("opened"))
_SMS_SCORE_PG = select(exists(select(_fresh.c.id)).label("fresh"),
                       select(_stored.c.id).scalar_subquery().label("response_id"),
                       exists(select(_opened.c.id)).label("opened"))


def newest_open(phone: str, now: datetime):
    """The invitation a reply from this number answers, the newest still open, as one row (or None).

    The row has the names of answers.service.Target, plus the survey's texts and the conversation's
    id and wants_anonymous (None when there is no conversation yet).
    """
    return unit_connection().execute(_NEWEST_OPEN, {"phone": phone, "now": now}).first()


def reason_pending(phone: str, now: datetime) -> Conversation | None:
    """The conversation from this number that waits for a reason, if its window is still open."""
    return db.session.scalar(
        select(Conversation).join(Invitation, Conversation.invitation_id == Invitation.id)
        .where(and_(Invitation.channel == "sms", Invitation.address == phone,
                    Conversation.state == "reason", Conversation.open_until > now))
        .order_by(Conversation.open_until.desc()).limit(1))


def _latest_invitation(phone: str) -> Invitation | None:
    return db.session.scalar(_sms_invitations(phone).order_by(Invitation.id.desc()).limit(1))


def _scale_hint(survey, locale: str) -> str:
    if (survey.scale_min, survey.scale_max) == (0, 1):
        return gettext("sms_reply_yes_no", locale)
    return gettext("sms_reply_range", locale, lo=survey.scale_min, hi=survey.scale_max)


def handle_sms(message_sid: str, phone: str, body: str, now: datetime | None = None) -> SmsReply:
    """One inbound SMS: opt-out keywords, a score, a reason or ANON; the caller commits."""
    now = now or utcnow()
    row = newest_open(phone, now)
    lo, hi = (row.scale_min, row.scale_max) if row is not None else (0, 10)
    reply = parse_reply(body, lo, hi)
    if row is not None and reply.kind == "score":
        # The common case: a score for an open invitation needs nothing else looked up, and its
        # writes start with the MessageSid check.
        locale = normalize_locale(row.locale)
        return SmsReply(_sms_score(message_sid, row, reply, now, locale), locale)
    if not first_time(message_sid):
        return SmsReply(None)
    inv = db.session.get(Invitation, row.id) if row is not None else None
    if inv is not None and reply.kind == "out_of_scale":
        locale = normalize_locale(inv.locale)
        return SmsReply(_reprompt(conversation_for(inv, "sms"), inv.survey, locale), locale)
    pending = reason_pending(phone, now)
    pending_inv = db.session.get(Invitation, pending.invitation_id) if pending else None
    known = inv or pending_inv or _latest_invitation(phone)
    locale = normalize_locale(known.locale) if known else guess_locale(body)

    if reply.kind == "stop":
        invitations.opt_out("sms", phone, reason="stop")
        for conv in db.session.scalars(select(Conversation).join(
                Invitation, Conversation.invitation_id == Invitation.id).where(
                and_(Invitation.channel == "sms", Invitation.address == phone))):
            close(conv)
        return SmsReply(gettext("sms_stopped", locale), locale)
    if reply.kind == "start":
        invitations.opt_in("sms", phone)
        return SmsReply(gettext("sms_started", locale), locale)
    if reply.kind == "help":
        return SmsReply(gettext("sms_help", locale), locale)
    if pending is not None:
        return SmsReply(_sms_after_score(pending, reply, locale), locale)
    if inv is not None:
        return SmsReply(_sms_before_score(inv, reply, locale), locale)
    if known is not None and (known.status == Status.ANSWERED):
        return SmsReply(gettext("sms_already", locale), locale)
    if known is not None and (known.status == Status.EXPIRED
                              or (known.expires_at is not None and known.expires_at <= now)):
        return SmsReply(gettext("sms_closed", locale), locale)
    return SmsReply(gettext("sms_no_survey", locale), locale)


def _sms_score(message_sid: str, row, reply: Reply, now: datetime, locale: str) -> str | None:
    """A score for the row from newest_open(): record it, then open the reason step."""
    anonymous = reply.anonymous or bool(row.wants_anonymous)
    answer = service.Answer(score=reply.score, channel="sms", anonymous=anonymous)
    open_until = now + timedelta(seconds=current_app.config["SMS_REASON_WINDOW_SECONDS"])
    try:
        response = _store_sms_score(message_sid, row, answer, now, open_until)
    except Duplicate:
        return None
    except service.AnonymityNotAllowed:
        return gettext("sms_anon_not_allowed", locale, hint=_scale_hint(row, locale))
    except service.AnswerError as error:
        return gettext(f"sms_{_refusal(error)}", locale)
    prompt = (survey_text(row.texts, "reason_prompt", locale)
              or gettext("default_reason_prompt", locale))
    text = f"{gettext('sms_thanks_short', locale)}{prompt}"
    if row.anonymity == "optional" and not response["anonymous"]:
        text += gettext("sms_offer_anon", locale)
    return text


class Duplicate(Exception):
    """This MessageSid was handled before: a webhook retry, answered with silence."""


def _store_sms_score(message_sid: str, row, answer: service.Answer, now: datetime,
                     open_until: datetime) -> dict:
    """Take the MessageSid, record the answer and open the reason step: all of it, or nothing new.

    Returns the stored response's values; raises Duplicate, or the AnswerError that refused it.
    PostgreSQL runs it as one statement; SQLite as the same steps in the session's transaction.
    """
    try:
        anonymous = service.check(row, answer)
    except service.AnswerError:
        if not first_time(message_sid):
            raise Duplicate from None
        raise
    connection = unit_connection()
    if connection.dialect.name == "postgresql":
        params, values = service.answer_parameters(row, answer, anonymous, now)
        result = connection.execute(_SMS_SCORE_PG, {**params, "message_sid": message_sid,
                                                    "conv_open_until": open_until}).one()
        if not result.fresh:
            raise Duplicate
        if result.response_id is None:
            raise service.state_error(connection, row.id, now)
        return values
    if not first_time(message_sid):
        raise Duplicate
    response = service.record_answer(row, answer, now=now)
    # Most scores come first in their conversation: its row is inserted in its final state.
    if row.conversation_id is not None or not insert_if_absent(
            Conversation, invitation_id=row.id, channel="sms", state="reason", reprompts=0,
            wants_anonymous=False, response_id=response.id, open_until=open_until,
            created_at=now):
        connection.execute(_OPEN_REASON, {"conv_invitation_id": row.id,
                                          "conv_response_id": response.id,
                                          "conv_open_until": open_until})
    return {"id": response.id, "anonymous": response.anonymous}


def _reprompt(conv: Conversation, survey, locale: str) -> str | None:
    """One re-prompt per conversation; after that, silence rather than a loop of texts."""
    if conv.reprompts >= 1:
        return None
    conv.reprompts += 1
    return _scale_hint(survey, locale)


def _sms_after_score(conv: Conversation, reply: Reply, locale: str) -> str | None:
    if reply.kind == "anon":
        if make_anonymous(conv.response_id):
            return gettext("sms_now_anonymous", locale)
        return gettext("sms_anon_unavailable", locale)
    text, response_id = (reply.text or "").strip()[:service.MAX_REASON], conv.response_id
    won = db.session.execute(
        update(Conversation)
        .where(and_(Conversation.id == conv.id, Conversation.state == "reason"))
        .values(state="closed", response_id=None, open_until=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    if won and text:
        db.session.execute(update(Response).where(Response.id == response_id)
                           .values(reason=text).execution_options(synchronize_session=False))
    db.session.expire(conv)
    return gettext("sms_thanks", locale)


def _sms_before_score(inv: Invitation, reply: Reply, locale: str) -> str | None:
    survey = inv.survey
    conv = conversation_for(inv, "sms")
    if reply.kind == "anon":
        if survey.anonymity == "never":
            return gettext("sms_anon_not_allowed", locale, hint=_scale_hint(survey, locale))
        conv.wants_anonymous = True
        return gettext("sms_anon_noted", locale, hint=_scale_hint(survey, locale))
    return _reprompt(conv, survey, locale)


# --- voice --------------------------------------------------------------------------------------

@dataclass
class VoiceStep:
    """The next thing to play: ask, invalid, anon, record, thanks, already, closed or no_survey."""

    step: str
    invitation: Invitation | None = None


def start_call(invitation_id: int, call_sid: str, now: datetime | None = None) -> VoiceStep:
    """A call reached the survey: check the invitation is open and tie this call to it."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return VoiceStep("no_survey")
    error = service.open_state_error(inv, now)
    if error is not None:
        return VoiceStep(_refusal(error), inv)
    conv = conversation_for(inv, "ivr")
    if conv.state == "score":
        conv.channel, conv.call_sid = "ivr", call_sid
    return VoiceStep("ask", inv)


def _refusal(error: service.AnswerError) -> str:
    if isinstance(error, service.AlreadyAnswered):
        return "already"
    if isinstance(error, service.Expired):
        return "closed"
    return "no_survey"


def _after_score(inv: Invitation) -> str:
    return "anon" if inv.survey.anonymity == "optional" else "record"


def voice_score(invitation_id: int, call_sid: str, digits: str | None,
                now: datetime | None = None) -> VoiceStep:
    """The caller's keypress: record it once per CallSid, then go on to anonymity or the reason."""
    now = now or utcnow()
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return VoiceStep("no_survey")
    conv = conversation_for(inv, "ivr")
    if conv.call_sid == call_sid and conv.state in ("anon", "record"):
        return VoiceStep(conv.state, inv)  # Twilio retried this webhook: the score is in
    if conv.call_sid == call_sid and conv.state == "closed":
        return VoiceStep("thanks", inv)
    score = read_keypress(digits, inv.survey.scale_min, inv.survey.scale_max)
    if score is None:
        return VoiceStep("invalid", inv)
    response, refused = _record(inv, score, "ivr", False, now)
    if refused:
        return VoiceStep(refused, inv)
    conv.channel, conv.call_sid = "ivr", call_sid
    _start_reason_step(conv, response, VOICE_WINDOW, now, state=_after_score(inv))
    return VoiceStep(conv.state, inv)


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
        make_anonymous(conv.response_id)
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


def transfer_invitation(source: str, external_id: str, caller: str | None,
                        now: datetime | None = None) -> Invitation | None:
    """A caller put through to the survey at the end of a call: the invitation this call answers.

    An open invitation of the interaction is used as it is; a scheduled or queued one is taken
    over by this call (and so never sent); with none, one is made for the first IVR survey.
    """
    from survey_service.interactions.service import find_interaction, matching_surveys

    now = now or utcnow()
    interaction = find_interaction(source, external_id)
    if interaction is None:
        return None
    surveys = [s for s in matching_surveys(interaction.type) if "ivr" in (s.channels or [])]
    surveys.sort(key=lambda s: (s.metric != "csat", s.id))
    by_survey = {inv.survey_id: inv for inv in interaction.invitations}
    for survey in surveys:
        inv = by_survey.get(survey.id)
        if inv is not None and inv.status in ANSWERABLE and service.open_state_error(inv, now) is None:
            return inv
    address = caller or interaction.customer_phone
    for survey in surveys:
        inv = by_survey.get(survey.id)
        if inv is None:
            inv = Invitation(interaction_id=interaction.id, survey_id=survey.id, channel="ivr",
                             address=address,
                             locale=interaction.customer_locale or "en", status=Status.SENT,
                             due_at=now, sent_at=now,
                             expires_at=now + timedelta(seconds=survey.expires_after_seconds))
            try:
                with db.session.begin_nested():
                    db.session.add(inv)
            except IntegrityError:
                db.session.expire(interaction)
                return transfer_invitation(source, external_id, caller, now)
            return inv
        taken = db.session.execute(
            update(Invitation)
            .where(and_(Invitation.id == inv.id,
                        Invitation.status.in_([Status.SCHEDULED, Status.QUEUED])))
            .values(status=Status.SENT, channel="ivr", address=address, sent_at=now,
                    token_hash=None,
                    expires_at=now + timedelta(seconds=survey.expires_after_seconds))
            .execution_options(synchronize_session=False)).rowcount == 1
        if taken:
            db.session.refresh(inv)
            return inv
    return None
