"""Twilio SMS webhooks: inbound replies (the conversation) and delivery status callbacks."""

from __future__ import annotations

from functools import lru_cache

from flask import Response, abort, request
from twilio.twiml.messaging_response import MessagingResponse

from survey_service.answers.schemas import SmsInboundForm, SmsStatusForm
from survey_service.answers.service import after_answer
from survey_service.answers.sms import handle_sms
from survey_service.answers.twilio_security import twilio_signed
from survey_service.delivery.callbacks import apply_status, parse_error_code
from survey_service.extensions import db
from survey_service.fastpath import commit_session
from survey_service.openapi import Blueprint, signed_webhook
from survey_service.openapi import twiml as twiml_doc
from survey_service.validation import MAX_ID, parse_id

bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio/sms",
               description="Twilio's SMS webhooks, signed with X-Twilio-Signature.")


def twiml(response) -> Response:
    """An HTTP answer from TwiML, given as a string or a twilio.twiml object."""
    body = response if isinstance(response, str) else str(response)
    return Response(body, status=200, content_type="text/xml; charset=utf-8")


@lru_cache(maxsize=512)
def messaging(text: str | None) -> str:
    """A TwiML answer with one message, or an empty one (Twilio then sends nothing).

    Kept per text: replies come from a small set of catalog and survey texts.
    """
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


@bp.post("")
@bp.doc(**signed_webhook(SmsInboundForm, {"200": twiml_doc("The reply to send, or none.")}))
@twilio_signed
def inbound():
    """A text from a respondent; the reply goes back as TwiML."""
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    phone = form.get("From")
    if not sid or not phone:
        return twiml(messaging(None))
    reply = handle_sms(sid, phone, form.get("Body", ""))
    commit_session()  # a score was one statement on the unit connection, committed by itself
    after_answer(reply.recorded)
    return twiml(messaging(reply.text))


INVITATION_QUERY = {"in": "query", "name": "invitation", "required": True,
                    "description": "The invitation whose message or call this reports on.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def invitation_arg() -> int:
    """The invitation a status callback names in its URL (twilio_params has checked its form)."""
    invitation_id = parse_id(request.args.get("invitation"))
    if invitation_id is None:
        abort(400, description="The status callback URL names no invitation.")
    return invitation_id


@bp.post("/status")
@bp.doc(**signed_webhook(SmsStatusForm, {"204": {"description": "Taken, or ignored as late."}},
                         INVITATION_QUERY))
@twilio_signed
def status():
    """Delivery status of an invitation's message; late, repeated and out-of-order ones are safe."""
    form = request.form
    apply_status(invitation_arg(), "sms", form.get("MessageSid") or form.get("SmsSid"),
                 form.get("MessageStatus") or form.get("SmsStatus") or "",
                 parse_error_code(form.get("ErrorCode")))
    db.session.commit()
    return "", 204
