"""The SMS conversation: a score, then an optional reason, ANON, and the STOP/START/HELP keywords.

A reply that reads as a score for the newest open invitation of its number is one statement
(_SMS_SCORE), built from the same parts as every other answer (answers.service.answer_writes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import Text, and_, bindparam, cast, exists, lambda_stmt, null, select, true, update
from sqlalchemy.dialects.postgresql import insert

from survey_service.answers import rules, service
from survey_service.answers.conversations import close, conversation_for, refusal_name
from survey_service.answers.models import Conversation, InboundMessage, Response
from survey_service.answers.parsing import Reply, ScoreWords, guess_locale, parse_reply, score_words
from survey_service.db import constant, utcnow
from survey_service.extensions import db
from survey_service.fastpath import DriverStatement, unit_connection
from survey_service.i18n import gettext, normalize_locale, survey_text
from survey_service.incentives import delivery as incentive_messages
from survey_service.incentives import service as incentive_codes
from survey_service.interactions.models import Interaction
from survey_service.invitations import service as invitations
from survey_service.invitations.models import Invitation, takes_answers
from survey_service.surveys.models import Survey
from survey_service.upsert import insert_if_absent


@dataclass
class SmsReply:
    """What to text back (None: nothing) and in which language; `recorded` when a score was stored."""

    text: str | None
    locale: str = "en"
    recorded: service.Recorded | None = None


def first_time(message_sid: str) -> bool:
    """Remember an inbound MessageSid; False if it was handled before (a webhook retry)."""
    return insert_if_absent(InboundMessage, message_sid=message_sid, received_at=utcnow())


def _newest_open_sms(i, s, n, c):
    """The condition of answer_target() for the open SMS invitations to :phone."""
    return and_(i.c.channel == constant("sms"), i.c.address == bindparam("phone"),
                takes_answers(i, bindparam("now", type_=i.c.expires_at.type)))


# The invitation a reply answers, the newest still open, with what the conversation needs.
_newest_open = service.answer_target(_newest_open_sms, "texts", "conversation_id", newest=True)
# Run through lambda_stmt: SQLAlchemy keys its compiled-statement cache on the lambda's code
# instead of walking the whole statement on every call.
_NEWEST_OPEN = lambda_stmt(lambda: _newest_open)

# A reply that reads as a score, in one statement, step by step:
# 1. t: the newest open SMS invitation of the number (answer_target);
# 2. k, w, r: take the score if its survey does, answer the invitation, store the response
#    (answer_writes), guarded by
# 3. f: the MessageSid, remembered once; a webhook retry stops there and writes nothing;
# 4. o: the conversation opens its reason step, linked to the response until it closes.
# It returns the target's row either way, so a reply it did not take needs no re-read.
# Short aliases and CTE names keep the statement under the 4 kB up to which psycopg caches its
# parsed form (above that, psycopg parses the SQL text again on every execution).
_aliases = (Invitation.__table__.alias("i"), Survey.__table__.alias("s"),
            Interaction.__table__.alias("n"), Conversation.__table__.alias("c"))
_target = service.answer_target(_newest_open_sms, "texts", "offered", aliases=_aliases,
                                newest=True).cte("t")
_msg, _conv = InboundMessage.__table__, Conversation.__table__


def _fresh(take):
    """f: the MessageSid inserted once, only when the score is taken."""
    return (insert(_msg).from_select(
        ["message_sid", "received_at"],
        select(bindparam("message_sid", type_=_msg.c.message_sid.type), take.c.now).select_from(take))
        .on_conflict_do_nothing(index_elements=["message_sid"]).returning(_msg.c.message_sid)
        .cte("f"))


_writes = service.answer_writes(_target, reason=null(), guard_of=_fresh)
_take, _stored = _writes.take, _writes.stored
_reason_row = insert(_conv).from_select(
    ["invitation_id", "channel", "state", "reprompts", "wants_anonymous", "response_id", "open_until",
     "created_at"],
    select(_take.c.id, constant("sms"), constant("reason"), constant(0), constant(False), _stored.c.id,
           bindparam("until", type_=_conv.c.open_until.type), _take.c.now)
    .select_from(_take.join(_stored, true())))
_opened = (_reason_row.on_conflict_do_update(
    index_elements=["invitation_id"],
    set_={"state": constant("reason"), "response_id": _reason_row.excluded.response_id,
          "open_until": _reason_row.excluded.open_until})
    .cte("o"))
# Nothing reads `opened` (o), so it returns nothing: add_cte() puts it in the WITH, and PostgreSQL
# runs every data-modifying CTE.
_sms_score = (
    select(_target.c.id, _target.c.survey_id, _target.c.locale, _target.c.scale_min,
           _target.c.scale_max, _target.c.anonymity, cast(_target.c.texts, Text).label("texts"),
           _target.c.offered,
           exists(select(_take.c.id)).label("took"),
           exists(select(_writes.guard.c.message_sid)).label("fresh"),
           _stored.c.id.label("response_id"), _stored.c.anonymous, _stored.c.score)
    .select_from(select(constant(1).label("one")).subquery("one")
                 .outerjoin(_target, true()).outerjoin(_stored, true()))
    .add_cte(_opened))
_SMS_SCORE = DriverStatement(_sms_score)


def newest_open(phone: str, now: datetime):
    """The invitation a reply from this number answers, the newest still open, as one row (or None).

    The row has the names of answers.service.TARGET, plus the survey's texts and the conversation's
    id (None when there is no conversation yet).
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
    return db.session.scalar(
        select(Invitation).where(and_(Invitation.channel == "sms", Invitation.address == phone))
        .order_by(Invitation.id.desc()).limit(1))


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
        handled, row = _score(message_sid, phone, words, now)
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
        return SmsReply(_reprompt(conversation_for(inv.id, "sms"), inv.survey, locale), locale)
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
        return SmsReply(_after_score(pending, reply, locale), locale)
    if inv is not None:
        return SmsReply(_before_score(inv, reply, locale), locale)
    if known is not None:
        refusal = service.open_state_error(known, now)
        if isinstance(refusal, service.AlreadyAnswered | service.Expired):
            return SmsReply(gettext(f"sms_{refusal_name(refusal)}", locale), locale)
    return SmsReply(gettext("sms_no_survey", locale), locale)


def _score(message_sid: str, phone: str, words: ScoreWords, now: datetime):
    """Take a reply that reads as a score for the newest open invitation of this number (_SMS_SCORE).

    Returns (reply, None) when it was handled: recorded, a retry, or refused by the invitation's
    state. Returns (None, row) when the score does not fit the invitation's survey (off the scale,
    or an anonymity it refuses), and (None, None) when the number has no open invitation; nothing
    was written then, not even the MessageSid.
    """
    answer = service.Answer(score=words.number, channel="sms", anonymous=words.anonymous)
    open_until = now + timedelta(seconds=current_app.config["SMS_REASON_WINDOW_SECONDS"])
    connection = unit_connection()
    row = _SMS_SCORE.one(connection, {
        **service.answer_parameters(answer, now, yes_no=words.yes_no), "phone": phone,
        "message_sid": message_sid, "until": open_until})
    if row.id is None or not row.took:
        return None, (row if row.id is not None else None)
    locale = normalize_locale(row.locale)
    if not row.fresh:
        return SmsReply(None), None
    if row.response_id is None:
        # Lost the UPDATE: the invitation's state now says why (another answer, or expiry).
        state = connection.execute(select(Invitation.status, Invitation.expires_at)
                                   .where(Invitation.id == row.id)).one()
        error = service.open_state_error(state, now) or service.refusal_error("answered")
        return SmsReply(gettext(f"sms_{refusal_name(error)}", locale), locale), None
    recorded = service.Recorded(row.response_id, row.id, row.survey_id, row.score, row.anonymous, "sms",
                                row.offered)
    text = _thanks(survey_texts(row.texts), row.anonymity, row.anonymous, locale)
    if row.offered:
        text += _earned_code(recorded, now, locale)
    return SmsReply(text, locale, recorded), None


def _earned_code(recorded: service.Recorded, now: datetime, locale: str) -> str:
    """The code a score by SMS earned, for the reply itself (marked sent: no SMS of its own)."""
    earned = incentive_codes.issue(recorded.invitation_id, now, carried=True)
    if earned is None:
        return ""
    ctx = incentive_messages.context(earned.code, earned.expires_at,
                                     db.session.get(Survey, recorded.survey_id), locale)
    return gettext("incentive_sms_reply", locale, sentence=ctx["sentence"])


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


def _after_score(conv: Conversation, reply: Reply, locale: str) -> str | None:
    """A text after the score: ANON, or the reason (kept once, then the link is dropped)."""
    if reply.kind == "anon":
        if service.make_anonymous(conv.response_id):
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


def _before_score(inv: Invitation, reply: Reply, locale: str) -> str | None:
    """A text before any score: ANON (noted for the score to come) or a re-prompt."""
    survey = inv.survey
    conv = conversation_for(inv.id, "sms")
    if reply.kind == "anon":
        if rules.RefusesAnonymity.py(survey.anonymity, True):
            return gettext("sms_anon_not_allowed", locale, hint=_scale_hint(survey, locale))
        conv.wants_anonymous = True
        return gettext("sms_anon_noted", locale, hint=_scale_hint(survey, locale))
    return _reprompt(conv, survey, locale)
