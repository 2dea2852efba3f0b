"""SMS and voice conversations: score first, then an optional reason and anonymity choice.

Every score goes through answers.service: record_answer, or on PostgreSQL its one-statement form
(answer_ctes) for the common SMS reply. The conversation row keeps the link to the stored response
only while the reason step is open, so anonymous answers become unlinkable.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import (
    Boolean,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    lambda_stmt,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from survey_service.answers import service
from survey_service.answers.models import Conversation, InboundMessage, Response
from survey_service.answers.parsing import (
    Reply,
    ScoreWords,
    guess_locale,
    parse_reply,
    read_keypress,
    score_words,
)
from survey_service.db import DriverStatement, constant, unit_connection, utcnow
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
    response.answered_at = service.day_of(response.answered_at)
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


def _newest_open_of(inv, survey, interaction, conv, *columns):
    """SELECT columns of the newest open SMS invitation to :phone at :now (tables or aliases)."""
    return (
        select(*columns)
        .select_from(inv.join(survey, survey.c.id == inv.c.survey_id)
                     .join(interaction, interaction.c.id == inv.c.interaction_id)
                     .outerjoin(conv, conv.c.invitation_id == inv.c.id))
        .where(and_(inv.c.channel == constant("sms"), inv.c.address == bindparam("phone"),
                    service.answerable(inv),
                    or_(inv.c.expires_at.is_(None),
                        inv.c.expires_at > bindparam("now", type_=inv.c.expires_at.type))))
        .order_by(func.coalesce(inv.c.sent_at, inv.c.sending_at, inv.c.created_at).desc(),
                  inv.c.id.desc())
        .limit(constant(1)))


_newest_open = _newest_open_of(
    _inv, _survey, _interaction, _conv,
    _inv.c.id, _inv.c.status, _inv.c.expires_at, _inv.c.locale, _inv.c.survey_id,
    _inv.c.interaction_id, _survey.c.metric, _survey.c.scale_min, _survey.c.scale_max,
    _survey.c.anonymity, _survey.c.texts, _interaction.c.type.label("interaction_type"),
    _interaction.c.agent_id, _interaction.c.team, _interaction.c.queue, _interaction.c.customer_id,
    _conv.c.id.label("conversation_id"), _conv.c.wants_anonymous)
# Run through lambda_stmt: SQLAlchemy keys its compiled-statement cache on the lambda's code
# instead of walking the whole statement on every call (tens of microseconds for the big ones).
_NEWEST_OPEN = lambda_stmt(lambda: _newest_open)
# The reason step, opened on an existing conversation (or one another webhook just created).
_OPEN_REASON = (
    update(_conv).where(_conv.c.invitation_id == bindparam("conv_invitation_id"))
    .values(state="reason", response_id=bindparam("conv_response_id"),
            open_until=bindparam("conv_open_until", type_=_conv.c.open_until.type)))

# On PostgreSQL a reply that reads as a score is one statement. It finds the newest open invitation
# (`target`), takes the score if its survey does (`take`: on the scale, anonymity allowed), remembers
# the MessageSid (a retry stops there), records the answer (answers.service.answer_ctes) and opens the
# reason step. It returns the target's row either way, so a reply it did not take needs no re-read.
# Short aliases and CTE names keep the statement under the 4 kB up to which psycopg caches its
# parsed form (above that, psycopg parses the SQL text again on every execution).
_i, _s, _n, _c = _inv.alias("i"), _survey.alias("s"), _interaction.alias("n"), _conv.alias("c")
_target = _newest_open_of(
    _i, _s, _n, _c, _i.c.id, _i.c.locale, _i.c.survey_id, _i.c.interaction_id, _s.c.metric,
    _s.c.scale_min, _s.c.scale_max, _s.c.anonymity, _s.c.texts, _n.c.type.label("interaction_type"),
    _n.c.agent_id, _n.c.team, _n.c.queue, _n.c.customer_id, _c.c.wants_anonymous).cte("t")
_number = bindparam("number", type_=Integer)
_score = case((and_(_target.c.scale_min == constant(0), _target.c.scale_max == constant(1)),
               func.coalesce(bindparam("yes_no", type_=Integer), _number)), else_=_number)
_asked = or_(bindparam("asked_anonymous", type_=Boolean),
             func.coalesce(_target.c.wants_anonymous, false()))
_take = (select(*(_target.c[name] for name in (
    "id", "locale", "survey_id", "interaction_id", "metric", "interaction_type", "agent_id", "team",
    "queue", "customer_id")), _score.label("score"),
                or_(_target.c.anonymity == constant("always"), _asked).label("anonymous"))
         .where(and_(_score.between(_target.c.scale_min, _target.c.scale_max),
                     not_(and_(_target.c.anonymity == constant("never"), _asked))))
         .cte("k"))
_msg = InboundMessage.__table__
_fresh = (pg_insert(_msg).from_select(
    ["message_sid", "received_at"],
    select(bindparam("message_sid", type_=_msg.c.message_sid.type),
           bindparam("answer_now", type_=_msg.c.received_at.type)).select_from(_take))
    .on_conflict_do_nothing(index_elements=["message_sid"]).returning(_msg.c.message_sid)
    .cte("f"))
_won, _stored = service.answer_ctes(_take, _fresh)
_reason_row = pg_insert(_conv).from_select(
    ["invitation_id", "channel", "state", "reprompts", "wants_anonymous", "response_id", "open_until",
     "created_at"],
    select(_take.c.id, constant("sms"), constant("reason"), constant(0), constant(False), _stored.c.id,
           bindparam("conv_open_until", type_=_conv.c.open_until.type),
           bindparam("answer_now", type_=_conv.c.created_at.type))
    .select_from(_take.join(_stored, true())))
_opened = (_reason_row.on_conflict_do_update(
    index_elements=["invitation_id"],
    set_={"state": constant("reason"), "response_id": _reason_row.excluded.response_id,
          "open_until": _reason_row.excluded.open_until})
    .returning(_conv.c.id).cte("o"))
# Nothing reads `opened` (o): add_cte() puts it in the WITH, and PostgreSQL runs every data-modifying CTE.
_sms_score_pg = (
    select(_target.c.id, _target.c.locale, _target.c.scale_min, _target.c.scale_max,
           _target.c.anonymity, cast(_target.c.texts, Text).label("texts"),
           exists(select(_take.c.id)).label("took"), exists(select(_fresh.c.message_sid)).label("fresh"),
           _stored.c.id.label("response_id"),
           _stored.c.anonymous.label("stored_anonymous"))
    .select_from(select(constant(1).label("one")).subquery("one")
                 .outerjoin(_target, true()).outerjoin(_stored, true()))
    .add_cte(_opened))
_SMS_SCORE_PG = DriverStatement(_sms_score_pg)


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
    words = score_words(body)
    if words is not None:
        # The common reply: a score for the newest open invitation, whose writes start with the
        # MessageSid check. What it does not take goes on below with the invitation it found.
        handled, row = _sms_score(message_sid, phone, words, now)
        if handled is not None:
            return handled
    else:
        row = newest_open(phone, now)
    if not first_time(message_sid):
        return SmsReply(None)
    lo, hi = (row.scale_min, row.scale_max) if row is not None else (0, 10)
    reply = parse_reply(body, lo, hi)
    inv = db.session.get(Invitation, row.id) if row is not None else None
    if inv is not None and reply.kind == "score":
        # Only a score the survey refuses for its anonymity comes this far.
        locale = normalize_locale(inv.locale)
        return SmsReply(gettext("sms_anon_not_allowed", locale, hint=_scale_hint(inv.survey, locale)),
                        locale)
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


def _sms_score(message_sid: str, phone: str, words: ScoreWords, now: datetime):
    """Take a reply that reads as a score for the newest open invitation of this number.

    Returns (reply, None) when it was handled: recorded, a retry, or refused by the invitation's
    state. Returns (None, row) when the score does not fit the invitation's survey (off the scale,
    or an anonymity it refuses), and (None, None) when the number has no open invitation; nothing
    was written then, not even the MessageSid. PostgreSQL does it in one statement, SQLite in the
    session's transaction.
    """
    open_until = now + timedelta(seconds=current_app.config["SMS_REASON_WINDOW_SECONDS"])
    connection = unit_connection()
    if connection.dialect.name == "postgresql":
        row = _SMS_SCORE_PG.one(connection, {
            **service.answer_parameters("sms", now), "phone": phone, "now": now,
            "number": words.number, "yes_no": words.yes_no, "asked_anonymous": words.anonymous,
            "message_sid": message_sid, "conv_open_until": open_until})
        if row.id is None or not row.took:
            return None, (row if row.id is not None else None)
        locale = normalize_locale(row.locale)
        if not row.fresh:
            return SmsReply(None), None
        if row.response_id is None:
            error = service.state_error(connection, row.id, now)
            return SmsReply(gettext(f"sms_{_refusal(error)}", locale), locale), None
        return SmsReply(_thanks(survey_texts(row.texts), row.anonymity, row.stored_anonymous, locale),
                        locale), None

    row = newest_open(phone, now)
    if row is None:
        return None, None
    score = words.on_scale(row.scale_min, row.scale_max)
    asked = words.anonymous or bool(row.wants_anonymous)
    if score is None or not row.scale_min <= score <= row.scale_max or (
            asked and row.anonymity == "never"):
        return None, row
    locale = normalize_locale(row.locale)
    if not first_time(message_sid):
        return SmsReply(None), None
    try:
        response = service.record_answer(
            row, service.Answer(score=score, channel="sms", anonymous=asked), now=now)
    except service.AnswerError as error:
        return SmsReply(gettext(f"sms_{_refusal(error)}", locale), locale), None
    # Most scores come first in their conversation: its row is inserted in its final state.
    if row.conversation_id is not None or not insert_if_absent(
            Conversation, invitation_id=row.id, channel="sms", state="reason", reprompts=0,
            wants_anonymous=False, response_id=response.id, open_until=open_until,
            created_at=now):
        connection.execute(_OPEN_REASON, {"conv_invitation_id": row.id,
                                          "conv_response_id": response.id,
                                          "conv_open_until": open_until})
    return SmsReply(_thanks(row.texts, row.anonymity, response.anonymous, locale), locale), None


@lru_cache(maxsize=256)
def survey_texts(raw: str) -> dict:
    """A survey's texts from their JSON, parsed once per version: every score's reply reads them.

    The dict is shared between calls, so it is only read.
    """
    return json.loads(raw)


def _thanks(texts: dict, anonymity: str, anonymous: bool, locale: str) -> str:
    """Thanks for the score, the survey's reason question, and the anonymity offer if it applies."""
    prompt = (survey_text(texts, "reason_prompt", locale)
              or gettext("default_reason_prompt", locale))
    text = f"{gettext('sms_thanks_short', locale)}{prompt}"
    if anonymity == "optional" and not anonymous:
        text += gettext("sms_offer_anon", locale)
    return text


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
        expires_at = now + timedelta(seconds=survey.expires_after_seconds)
        if inv is None:
            inv = Invitation(interaction_id=interaction.id, survey_id=survey.id, channel="ivr",
                             address=address,
                             locale=interaction.customer_locale or "en", status=Status.SENT,
                             due_at=now, sent_at=now, expires_at=expires_at)
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
                    token_hash=None, expires_at=expires_at, wake_at=expires_at)
            .execution_options(synchronize_session=False)).rowcount == 1
        if taken:
            db.session.refresh(inv)
            return inv
    return None
