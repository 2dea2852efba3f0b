"""The "interaction ended" event as platforms send it, checked and normalised field by field."""

from __future__ import annotations

import re
from datetime import timedelta

import phonenumbers
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from survey_service.db import utcnow
from survey_service.i18n import normalize_locale
from survey_service.interactions.models import INTERACTION_TYPES
from survey_service.validation import Instant, Locale, Text, TimeZone

_ID = validate.Length(1, 128)
_CURRENCIES = frozenset(list_currencies())
_AMOUNT = re.compile(r"[0-9]{1,13}(\.[0-9]{1,10})?")
_SOURCE = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$",
                          error="Use 1-64 letters, digits or . _ : -")


def normalize_phone(raw: str) -> str:
    """E.164 form of a valid phone number; raises ValidationError naming what is wrong."""
    region = current_app.config.get("DEFAULT_REGION", "US") if current_app else "US"
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"Not a phone number: {exc._msg}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Not a valid phone number; use E.164, such as +8613800138000.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """The normalised address; syntax only, no DNS look-up (intake must not wait on the network)."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(str(exc)) from exc


class PhoneField(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_phone(super()._deserialize(value, attr, data, **kwargs))


class EmailField(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_email(super()._deserialize(value, attr, data, **kwargs))


class CustomerSchema(Schema):
    id = Text(validate=_ID, allow_none=True)
    phone = PhoneField(allow_none=True, validate=validate.Length(max=40))
    email = EmailField(allow_none=True, validate=validate.Length(max=320))
    locale = Locale(allow_none=True)
    timezone = TimeZone(allow_none=True)

    @post_load
    def _locale(self, data, **kwargs):
        if data.get("locale"):
            data["locale"] = normalize_locale(data["locale"])
        return data


class AgentSchema(Schema):
    id = Text(validate=_ID, allow_none=True)
    name = Text(validate=validate.Length(1, 200), allow_none=True)
    team = Text(validate=_ID, allow_none=True)


class AmountField(fields.Decimal):
    """A money amount as a JSON number or a plain decimal string ("12.50"), never "1_000" or "١٢"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not _AMOUNT.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class OrderSchema(Schema):
    id = Text(validate=_ID, allow_none=True)
    amount = AmountField(places=2, as_string=True, allow_none=True,
                            validate=validate.Range(min=0, max=10**12),
                            metadata={"minimum": 0, "maximum": 10**12})  # numbers, not "0.00"
    currency = Text(allow_none=True, metadata={"enum": sorted(_CURRENCIES), "example": "CNY"})

    @validates("currency")
    def _currency(self, value, **kwargs):
        if value is not None and value not in _CURRENCIES:
            raise ValidationError(f"'{value}' is not an ISO 4217 currency code.")


class InteractionSchema(Schema):
    """One interaction that ended."""

    external_id = Text(required=True, validate=_ID)
    source = Text(required=True, validate=_SOURCE)
    type = Text(required=True, validate=validate.OneOf(INTERACTION_TYPES))
    ended_at = Instant(required=True)
    customer = fields.Nested(CustomerSchema, load_default=dict)
    agent = fields.Nested(AgentSchema, load_default=dict)
    queue = Text(validate=_ID, allow_none=True)
    order = fields.Nested(OrderSchema, allow_none=True)
    attributes = fields.Dict(keys=Text(validate=validate.Length(1, 64)),
                             values=Text(), load_default=dict)

    @validates("ended_at")
    def _not_future(self, value, **kwargs):
        if value > utcnow() + timedelta(minutes=10):
            raise ValidationError("ended_at lies in the future.")

    @validates("attributes")
    def _attributes(self, value, **kwargs):
        cfg = current_app.config
        if len(value) > cfg["MAX_ATTRIBUTES"]:
            raise ValidationError(f"At most {cfg['MAX_ATTRIBUTES']} attributes.")
        too_long = sorted(k for k, v in value.items()
                          if len(v.encode()) > cfg["MAX_ATTRIBUTE_BYTES"])
        if too_long:
            raise ValidationError(
                f"Values longer than {cfg['MAX_ATTRIBUTE_BYTES']} bytes: {', '.join(too_long)}.")

    @validates_schema
    def _order_amount(self, data, **kwargs):
        order = data.get("order") or {}
        if order.get("amount") is not None and not order.get("currency"):
            raise ValidationError({"currency": ["A currency is required with an amount."]},
                                  "order")


class InvitationOutSchema(Schema):
    id = fields.Integer()
    survey = fields.String()
    channel = fields.String(allow_none=True)
    status = fields.String()
    due_at = fields.DateTime(allow_none=True)
    suppressed_reason = fields.String(allow_none=True)


class InteractionOutSchema(Schema):
    external_id = fields.String()
    source = fields.String()
    type = fields.String()
    ended_at = fields.DateTime()
    customer = fields.Dict()
    agent = fields.Dict()
    queue = fields.String(allow_none=True)
    order = fields.Dict(allow_none=True)
    attributes = fields.Dict()


class IntakeResultSchema(Schema):
    interaction = fields.Nested(InteractionOutSchema)
    invitations = fields.List(fields.Nested(InvitationOutSchema))


class BatchSchema(Schema):
    items = fields.List(fields.Raw(allow_none=True), required=True,  # each item is checked alone
                        validate=validate.Length(1, 1000,
                                                 error="Send between 1 and 1,000 items."))


class BatchItemResultSchema(Schema):
    index = fields.Integer()
    status = fields.Integer()
    body = fields.Dict()


class BatchResultSchema(Schema):
    items = fields.List(fields.Nested(BatchItemResultSchema))
