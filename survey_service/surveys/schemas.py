"""Survey definitions as the API reads and writes them."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from survey_service.interactions.models import INTERACTION_TYPES
from survey_service.surveys.models import ANONYMITY, CHANNELS, METRICS
from survey_service.validation import Clock, Locale, Text, TimeZone

KEY = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$", error="Use 1-64 lowercase letters, digits or '-'.")
TASK_KEY = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$",
                           error="Use 1-64 lowercase letters, digits, '-' or '_'.")


class ScaleSchema(Schema):
    min = fields.Integer(required=True, validate=validate.Range(0, 100))
    max = fields.Integer(required=True, validate=validate.Range(1, 100))

    @validates_schema
    def _order(self, data, **kwargs):
        if data["min"] >= data["max"]:
            raise ValidationError("max must be greater than min.", "max")


class LocaleTextsSchema(Schema):
    question = Text(validate=validate.Length(1, 500))
    reason_prompt = Text(validate=validate.Length(1, 500))
    labels = fields.Dict(keys=Text(validate=validate.Regexp(r"^\d{1,3}$")),
                         values=Text(validate=validate.Length(1, 60)))
    intro = Text(validate=validate.Length(1, 300))
    thanks = Text(validate=validate.Length(1, 300))
    reward = Text(validate=validate.Length(1, 200),
                  metadata={"description": "The incentive's reward in this language."})
    tasks = fields.Dict(keys=Text(validate=TASK_KEY), values=Text(validate=validate.Length(1, 100)),
                        metadata={"description": "Labels of the survey's `tasks` in this language, by key."})


class ReminderSchema(Schema):
    after_seconds = fields.Integer(required=True, validate=validate.Range(min=1))
    max = fields.Integer(required=True, validate=validate.Range(0, 5))


class QuietHoursSchema(Schema):
    start = Clock(required=True)
    end = Clock(required=True)


class IncentiveSchema(Schema):
    reward = Text(required=True, validate=validate.Length(1, 200))
    window_seconds = fields.Integer(required=True, validate=validate.Range(min=1))
    holdout_rate = fields.Float(load_default=0.0, validate=validate.Range(0.0, 0.9))


class SurveySchema(Schema):
    """A whole survey definition; every field but key, metric and scale has a default."""

    key = Text(required=True, validate=KEY)
    name = Text(validate=validate.Length(1, 200))
    metric = Text(required=True, validate=validate.OneOf(METRICS))
    scale = fields.Nested(ScaleSchema, required=True)
    positive_min = fields.Integer(allow_none=True)
    higher_is_easier = fields.Boolean(allow_none=True)
    texts = fields.Dict(keys=Locale(),
                        values=fields.Nested(LocaleTextsSchema))
    interaction_types = fields.List(Text(validate=validate.OneOf(INTERACTION_TYPES)))
    channels = fields.List(Text(validate=validate.OneOf(CHANNELS)))
    delay_seconds = fields.Integer(validate=validate.Range(0, 30 * 86400))
    expires_after_seconds = fields.Integer(validate=validate.Range(1, 365 * 86400))
    reminder = fields.Nested(ReminderSchema, allow_none=True)
    sample_rate = fields.Float(validate=validate.Range(0.0, 1.0))
    throttle_days = fields.Integer(validate=validate.Range(0, 3650))
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True)
    timezone = TimeZone()
    anonymity = Text(validate=validate.OneOf(ANONYMITY))
    incentive = fields.Nested(IncentiveSchema, allow_none=True)
    respondent = Text(validate=validate.OneOf(("customer", "agent")))
    tasks = fields.List(Text(validate=TASK_KEY), allow_none=True, validate=validate.Length(max=100),
                        metadata={"description": "Agent surveys: the task keys an answer may name (labels "
                                                 "in texts.<locale>.tasks); null takes any label."})
    active = fields.Boolean()
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _consistent(self, data, partial=None, **kwargs):
        if partial:
            return  # a patch is checked again once merged with the stored survey
        scale = data["scale"]
        lo, hi = scale["min"], scale["max"]
        pos = data.get("positive_min")
        if pos is not None and not lo <= pos <= hi:
            raise ValidationError(f"positive_min must lie within the scale {lo}-{hi}.",
                                  "positive_min")
        if data["metric"] == "nps" and (lo, hi) != (0, 10):
            raise ValidationError("An NPS survey uses the scale 0-10.", "scale")
        for locale, text in (data.get("texts") or {}).items():
            bad = [p for p in (text.get("labels") or {}) if not lo <= int(p) <= hi]
            if bad:
                raise ValidationError(
                    {locale: {"labels": [f"Points outside the scale {lo}-{hi}: {', '.join(bad)}."]}},
                    "texts")
        tasks = data.get("tasks")
        if tasks is not None and len(set(tasks)) != len(tasks):
            raise ValidationError("A task may appear only once.", "tasks")
        for locale, text in (data.get("texts") or {}).items():
            unknown = sorted(set(text.get("tasks") or {}) - set(tasks or ()))
            if unknown and tasks is not None:
                raise ValidationError(
                    {locale: {"tasks": [f"Not in the survey's tasks: {', '.join(unknown)}."]}}, "texts")
        channels = data.get("channels")
        if channels is not None and len(set(channels)) != len(channels):
            raise ValidationError("A channel may appear only once.", "channels")


class SurveyPatchSchema(SurveySchema):
    """PATCH: only the named fields change, each whole (a nested object is replaced); the key cannot."""

    class Meta:
        exclude = ("key",)


# Partial at the top level only: {"scale": {"min": 2}} still needs scale.max (a 422 naming it).
PATCHABLE = tuple(name for name in SurveySchema._declared_fields if name != "key")


class SurveyListSchema(Schema):
    items = fields.List(fields.Nested(SurveySchema))
