"""JSON answers: what chat widgets and apps send, and what they get back."""

from marshmallow import Schema, fields, validate


class AnswerInSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(1, 100))
    score = fields.Integer(required=True, strict=True)
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    anonymous = fields.Boolean(load_default=False)


class AnswerOutSchema(Schema):
    id = fields.String()
    survey = fields.String()
    metric = fields.String()
    score = fields.Integer()
    reason = fields.String(allow_none=True)
    anonymous = fields.Boolean()
    channel = fields.String()
    answered_at = fields.String(metadata={"description": "a date only, for anonymous answers"})
    incentive_code = fields.String(allow_none=True)
