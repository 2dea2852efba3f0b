"""JSON answers: what chat widgets and apps send, and what they get back."""

from marshmallow import INCLUDE, Schema, fields, validate

from survey_service.answers.twilio_params import LIMITS
from survey_service.validation import Text

# No scale reaches past 0-100 (surveys.schemas.ScaleSchema): a larger number is refused here, by name,
# before it meets a database integer.
SCORE = validate.Range(0, 100, error="A score lies within its survey's scale, never outside 0-100.")


class AnswerInSchema(Schema):
    token = Text(required=True, validate=validate.Length(1, 100))
    score = fields.Integer(required=True, strict=True, validate=SCORE)
    reason = Text(allow_none=True, validate=validate.Length(max=2000))
    anonymous = fields.Boolean(load_default=False)


class AnswerOutSchema(Schema):
    id = fields.String()
    survey = fields.String()
    metric = fields.String()
    score = fields.Integer()
    reason = fields.String(allow_none=True)
    anonymous = fields.Boolean()
    channel = fields.String(metadata={"description": "The channel the invitation went out on."})
    answer_channel = fields.String(metadata={
        "description": "The way the answer came back: web (the page or this API), sms or ivr."})
    answered_at = fields.String(metadata={"description": "a date only, for anonymous answers"})
    incentive_code = fields.String(metadata={
        "description": "The incentive code this answer earned (XXXXX-XXXXX); absent when none."})


# -- form bodies, for the OpenAPI document: the views read request.form themselves ----------------


def _twilio(name: str, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=LIMITS[name]), **kwargs)


class TwilioForm(Schema):
    """What every Twilio webhook posts; Twilio adds parameters over time, and they are accepted."""

    class Meta:
        unknown = INCLUDE

    AccountSid = fields.String()
    From = _twilio("From", metadata={"example": "+8613800138000"})
    To = _twilio("To", metadata={"example": "+15005550006"})


class SmsInboundForm(TwilioForm):
    MessageSid = _twilio("MessageSid", required=True)
    Body = _twilio("Body", metadata={"description": "The reply: a score, a reason, ANON or a keyword."})


class SmsStatusForm(TwilioForm):
    MessageSid = _twilio("MessageSid")
    MessageStatus = _twilio("MessageStatus", metadata={"example": "delivered"})
    ErrorCode = _twilio("ErrorCode")


class VoiceForm(TwilioForm):
    CallSid = _twilio("CallSid")
    Digits = _twilio("Digits", metadata={"description": "The keys pressed, such as 5 or 5#."})
    RecordingUrl = _twilio("RecordingUrl")


class CallStatusForm(TwilioForm):
    CallSid = _twilio("CallSid")
    CallStatus = _twilio("CallStatus", metadata={"example": "completed"})
    ErrorCode = _twilio("ErrorCode")


class SurveyPageForm(Schema):
    """The survey page's form: the score, an optional reason and anonymity, and its CSRF token."""

    csrf_token = fields.String(required=True)
    score = fields.Integer(required=True, validate=SCORE)
    reason = fields.String(validate=validate.Length(max=2000))
    anonymous = fields.String(metadata={"description": "y when the box is ticked."})
