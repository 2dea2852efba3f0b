"""The opt-out list as the admin API reads and writes it."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate

from survey_service.interactions.schemas import normalize_email, normalize_phone
from survey_service.invitations.policy import CHANNEL_ADDRESS
from survey_service.validation import MAX_ID, Text

CHANNELS = tuple(CHANNEL_ADDRESS)
_CHANNEL = validate.OneOf(CHANNELS)


def normalize_address(channel: str, raw: str) -> str:
    """The address as the list keeps it: E.164 for sms and ivr, the normalised form for email."""
    if len(raw) > 320:
        raise ValidationError("Longer than 320 characters.")
    return normalize_email(raw) if CHANNEL_ADDRESS[channel] == "email" else normalize_phone(raw)


class OptOutInSchema(Schema):
    channel = Text(required=True, validate=_CHANNEL)
    address = Text(required=True, validate=validate.Length(1, 320),
                   metadata={"description": "A phone number (sms, ivr) or an email address."})
    reason = Text(load_default="request", validate=validate.Length(1, 32))

    @post_load
    def _normalize(self, data, **_kwargs):
        try:
            data["address"] = normalize_address(data["channel"], data["address"])
        except ValidationError as exc:
            raise ValidationError({"address": exc.messages}) from exc
        return data


class OptOutSchema(Schema):
    id = fields.Integer(metadata={"description": "Page on with ?after=<the last id>."})
    channel = fields.String()
    address = fields.String(allow_none=True, metadata={
        "description": "null once its customer was erased: only a keyed hash is kept."})
    reason = fields.String()
    created_at = fields.DateTime()


class OptOutListSchema(Schema):
    items = fields.List(fields.Nested(OptOutSchema))


class OptOutQuerySchema(Schema):
    channel = Text(validate=_CHANNEL)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    after = fields.Integer(load_default=0, validate=validate.Range(0, MAX_ID),
                           metadata={"description": "Only rows with a larger id."})
