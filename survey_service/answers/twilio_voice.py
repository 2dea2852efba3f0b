"""Twilio voice webhooks: the IVR survey (outbound call or caller transferred in) and call status."""

from __future__ import annotations

from flask import current_app, request
from twilio.twiml.voice_response import VoiceResponse

from survey_service.answers import voice
from survey_service.answers.schemas import CallStatusForm, VoiceForm
from survey_service.answers.service import after_answer
from survey_service.answers.twilio_security import twilio_signed
from survey_service.answers.twilio_sms import INVITATION_QUERY, invitation_arg, twiml
from survey_service.answers.voice import VoiceStep
from survey_service.delivery.callbacks import apply_status, parse_error_code
from survey_service.extensions import db
from survey_service.i18n import gettext, normalize_locale, survey_text
from survey_service.incentives import service as incentive_codes
from survey_service.incentives.texts import reward_text, spoken_code
from survey_service.invitations.transfer import transfer_invitation
from survey_service.openapi import Blueprint, signed_webhook
from survey_service.openapi import twiml as twiml_doc

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice",
               description="Twilio's voice webhooks for the IVR survey, signed with X-Twilio-Signature.")
_STEP = signed_webhook(VoiceForm, {"200": twiml_doc("What the call says and gathers next.")})

# <Say> language and a voice that speaks it, per respondent language.
SPEECH = {
    "en": ("en-US", "Polly.Joanna"),
    "zh-Hans": ("cmn-CN", "Polly.Zhiyu"),
    "zh-Hant": ("cmn-TW", "Google.cmn-TW-Standard-A"),
}
MAX_RECORDING_SECONDS = 60


def _say(node, text: str, locale: str) -> None:
    language, voice = SPEECH[locale]
    node.say(text, language=language, voice=voice)


def _url(invitation_id: int, step: str, **query) -> str:
    base = f"{current_app.config['PUBLIC_BASE_URL']}/twilio/voice/invitation/{invitation_id}/{step}"
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def ask(inv, attempt: int, locale: str, retry: bool = False) -> VoiceResponse:
    """The question with its keypad hint in a <Gather>; no input comes back as attempt + 1."""
    survey = inv.survey
    response = VoiceResponse()
    gather = response.gather(num_digits=len(str(survey.scale_max)), method="POST",
                             timeout=current_app.config["IVR_GATHER_TIMEOUT"],
                             action=_url(inv.id, "score", attempt=attempt), action_on_empty_result=True)
    if retry:
        _say(gather, gettext("ivr_invalid", locale), locale)
    elif survey.anonymity == "always":
        _say(gather, gettext("anonymous_always", locale), locale)
    elif survey.anonymity == "optional":
        _say(gather, gettext("anonymous_note", locale), locale)
    question = survey_text(survey.texts, "question", locale) or gettext("default_question", locale)
    _say(gather, question, locale)
    if (survey.scale_min, survey.scale_max) == (0, 1):
        _say(gather, gettext("ivr_press_yes_no", locale), locale)
    else:
        _say(gather, gettext("ivr_press_range", locale, lo=survey.scale_min, hi=survey.scale_max),
             locale)
    return response


def offer_anonymity(inv, locale: str) -> VoiceResponse:
    response = VoiceResponse()
    gather = response.gather(num_digits=1, method="POST", action=_url(inv.id, "anonymous"),
                             timeout=current_app.config["IVR_GATHER_TIMEOUT"],
                             action_on_empty_result=True)
    _say(gather, gettext("ivr_offer_anon", locale), locale)
    return response


def record_reason(inv, locale: str) -> VoiceResponse:
    """An optional spoken reason; hanging up or silence simply ends the call."""
    response = VoiceResponse()
    prompt = survey_text(inv.survey.texts, "reason_prompt", locale)
    if prompt:
        _say(response, prompt, locale)
    _say(response, gettext("ivr_record", locale), locale)
    response.record(action=_url(inv.id, "reason"), method="POST", max_length=MAX_RECORDING_SECONDS,
                    finish_on_key="#", play_beep=True, timeout=5)
    return goodbye("ivr_thanks", locale, response)


def goodbye(key: str, locale: str, response: VoiceResponse | None = None) -> VoiceResponse:
    response = response or VoiceResponse()
    _say(response, gettext(key, locale), locale)
    response.hangup()
    return response


def render(step: VoiceStep, attempt: int = 1) -> VoiceResponse:
    """TwiML for the next step of the call."""
    inv = step.invitation
    locale = normalize_locale(inv.locale) if inv is not None else "en"
    if step.step == "ask":
        return ask(inv, attempt, locale)
    if step.step == "invalid":
        if attempt >= 2:
            return goodbye("ivr_goodbye", locale)
        return ask(inv, attempt + 1, locale, retry=True)
    if step.step == "anon":
        return offer_anonymity(inv, locale)
    if step.step == "record":
        return record_reason(inv, locale)
    return goodbye(f"ivr_{step.step}", locale)


def _finish(step: VoiceStep, attempt: int = 1):
    db.session.commit()
    code = _code_for_the_call(step)
    after_answer(step.recorded)
    response = render(step, attempt)
    if code is not None:  # said first, before what the call asks next
        said = VoiceResponse()
        _say(said, code, normalize_locale(step.invitation.locale))
        response.verbs[:0] = said.verbs
    return twiml(response)


def _code_for_the_call(step: VoiceStep) -> str | None:
    """The code this keypress earned, as the call will say it; the call carries it (marked sent)."""
    recorded = step.recorded
    if recorded is None or recorded.incentive_offered is False:  # None: not known, issue() decides
        return None
    earned = incentive_codes.issue(recorded.invitation_id, carried=True)
    db.session.commit()
    if earned is None:
        return None
    survey, locale = step.invitation.survey, normalize_locale(step.invitation.locale)
    return spoken_code(earned.code, reward_text(survey.texts or {}, survey.incentive, locale), locale)


@bp.post("/invitation/<int:invitation_id>")
@bp.doc(**_STEP)
@twilio_signed
def invitation_call(invitation_id: int):
    """Our outbound call was answered: ask the question."""
    return _finish(voice.start_call(invitation_id, request.form.get("CallSid", "")))


@bp.post("/transfer/<source>/<path:external_id>")
@bp.doc(**_STEP)
@twilio_signed
def transfer(source: str, external_id: str):
    """A caller put through at the end of a call: find (or make) the invitation, then ask."""
    inv = transfer_invitation(source, external_id, request.form.get("From"))
    if inv is None:
        db.session.commit()
        return twiml(goodbye("ivr_no_survey", "en"))
    return _finish(voice.start_call(inv.id, request.form.get("CallSid", "")))


@bp.post("/invitation/<int:invitation_id>/score")
@bp.doc(**signed_webhook(VoiceForm, _STEP["responses"], {
    "in": "query", "name": "attempt", "schema": {"type": "integer", "minimum": 1, "maximum": 2}}))
@twilio_signed
def score(invitation_id: int):
    """The keypress (or none); the attempt number lets an empty or invalid one repeat once."""
    raw = request.args.get("attempt", "1")
    attempt = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 3 else 2  # garbage: the last
    step = voice.voice_score(invitation_id, request.form.get("CallSid", ""),
                                     request.form.get("Digits"))
    return _finish(step, attempt)


@bp.post("/invitation/<int:invitation_id>/anonymous")
@bp.doc(**_STEP)
@twilio_signed
def anonymous(invitation_id: int):
    """The keypress answering whether to keep the answer anonymous."""
    return _finish(voice.voice_anonymous(invitation_id, request.form.get("CallSid", ""),
                                                 request.form.get("Digits")))


@bp.post("/invitation/<int:invitation_id>/reason")
@bp.doc(**_STEP)
@twilio_signed
def reason(invitation_id: int):
    """The recorded reason, when the caller left one."""
    return _finish(voice.voice_reason(invitation_id, request.form.get("CallSid", ""),
                                              request.form.get("RecordingUrl")))


@bp.post("/status")
@bp.doc(**signed_webhook(CallStatusForm, {"204": {"description": "Taken, or ignored as late."}},
                         INVITATION_QUERY))
@twilio_signed
def status():
    """Call progress for an invitation's outbound call; safe when replayed or out of order."""
    form = request.form
    apply_status(invitation_arg(), "ivr", form.get("CallSid"), form.get("CallStatus") or "",
                 parse_error_code(form.get("ErrorCode")))
    db.session.commit()
    return "", 204
