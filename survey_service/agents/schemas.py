"""The agent directory and the agent's effort answer, as the API reads and writes them."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from survey_service.answers.schemas import SCORE
from survey_service.i18n import normalize_locale
from survey_service.interactions.schemas import EmailField
from survey_service.validation import Locale, Text, TimeZone

_ID = validate.Length(1, 128)


class AgentInSchema(Schema):
    """PUT /api/v1/agents/{id}: the whole record; an omitted field becomes empty (`active`: true)."""

    name = Text(allow_none=True, validate=validate.Length(1, 200))
    team = Text(allow_none=True, validate=_ID)
    email = EmailField(allow_none=True, validate=validate.Length(max=320))
    locale = Locale(allow_none=True)
    timezone = TimeZone(allow_none=True)
    active = fields.Boolean(load_default=True)

    @post_load
    def _locale(self, data, **kwargs):
        if data.get("locale"):
            data["locale"] = normalize_locale(data["locale"])
        return data


class DirectoryAgentSchema(Schema):
    """An agent in the directory."""

    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    team = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AgentListQuerySchema(Schema):
    """GET /api/v1/agents filters."""

    team = Text(validate=_ID)
    active = fields.Boolean()


class DirectoryAgentListSchema(Schema):
    items = fields.List(fields.Nested(DirectoryAgentSchema))


class EffortInSchema(Schema):
    """POST /api/v1/agent-effort: about one interaction (source + interaction_external_id) or a task."""

    source = Text(validate=validate.Length(1, 64),
                  metadata={"description": "The interaction's source; with interaction_external_id."})
    interaction_external_id = Text(validate=_ID, metadata={
        "description": "The interaction the answer is about; without it the answer is about `task`."})
    task = Text(validate=validate.Length(1, 64), metadata={
        "description": "A task key of the survey's `tasks` (any label when it has none); required "
                       "without an interaction."})
    score = fields.Integer(required=True, strict=True, validate=SCORE)
    reason = Text(allow_none=True, validate=validate.Length(max=2000))
    anonymous = fields.Boolean(load_default=False)

    @validates_schema
    def _both_or_neither(self, data, **kwargs):
        has_source, has_id = "source" in data, "interaction_external_id" in data
        if has_source and not has_id:
            raise ValidationError("Give the interaction's external id with its source.",
                                  "interaction_external_id")
        if has_id and not has_source:
            raise ValidationError("Give the interaction's source with its external id.", "source")
        if not has_id and not data.get("task"):
            raise ValidationError("An answer without an interaction names its task.", "task")


class EffortOutSchema(Schema):
    """The stored effort answer; an anonymous one shows neither the agent's interaction nor its time."""

    id = fields.String()
    survey = fields.String()
    metric = fields.String()
    score = fields.Integer()
    reason = fields.String(allow_none=True)
    task = fields.String(allow_none=True)
    anonymous = fields.Boolean()
    channel = fields.String()
    answer_channel = fields.String()
    answered_at = fields.String()
    interaction = fields.Dict(metadata={"description": "source and external_id; not on anonymous answers "
                                                       "nor on task-level ones."})
