"""JSON answers: what chat widgets and apps send, and what they get back."""

from marshmallow import Schema, fields, validate

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
    channel = fields.String()
    answered_at = fields.String(metadata={"description": "a date only, for anonymous answers"})
    incentive_code = fields.String(allow_none=True)
