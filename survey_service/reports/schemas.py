"""Query and answer shapes of the score endpoint."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates
from webargs.fields import DelimitedList

from survey_service.answers.models import RESPONSE_SOURCES
from survey_service.answers.schemas import SCORE
from survey_service.answers.service import MAX_REASON
from survey_service.db import utcnow
from survey_service.i18n import normalize_locale
from survey_service.interactions.models import INTERACTION_TYPES
from survey_service.reports.service import BUCKETS, GROUP_KEYS, attribute_name
from survey_service.surveys.models import CHANNELS, METRICS
from survey_service.validation import HalfOpenRange, Instant, Locale, Text, TimeZone


def _group_key(value: str) -> None:
    """A score group key: one of GROUP_KEYS, or attributes.<name> of an interaction attribute."""
    name = attribute_name(value)
    if value in GROUP_KEYS or (name and len(name) <= 64):
        return
    raise ValidationError(f"Unknown group '{value}'; use {', '.join(GROUP_KEYS)} or attributes.<name>.")


class ScoresQuerySchema(HalfOpenRange):
    """GET /api/v1/scores query: one metric, an optional half-open time range, groups and a bucket."""

    metric = Text(required=True, validate=validate.OneOf(METRICS))
    start = Instant(data_key="from", metadata={"description": "ISO 8601 with offset; inclusive."})
    end = Instant(data_key="to", metadata={"description": "ISO 8601 with offset; exclusive."})
    group_by = DelimitedList(
        Text(validate=_group_key), load_default=list,
        metadata={"description": f"Comma list of: {', '.join(GROUP_KEYS)}, and attributes.<name> for an "
                                 "interaction attribute (read from the answers, not the rollups)."})
    bucket = Text(validate=validate.OneOf(BUCKETS))
    tz = TimeZone(load_default="UTC",
                  metadata={"description": "IANA time zone for buckets, such as Asia/Shanghai."})
    survey_key = Text(data_key="survey", validate=validate.Length(1, 64),
                      metadata={"description": "Only this survey's answers."})



class ScoreRowSchema(Schema):
    """One score row; only the asked group keys, and `bucket` only when a bucket was asked for."""

    agent = fields.String(allow_none=True)
    team = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    channel = fields.String(allow_none=True, metadata={"description": "The channel the invitation went "
                                                                      "out on."})
    answer_channel = fields.String(allow_none=True, metadata={
        "description": "The way the answer came back: web, sms or ivr."})
    interaction_type = fields.String(allow_none=True)
    task = fields.String(allow_none=True, metadata={"description": "The task an agent's effort answer "
                                                                   "names (AES); null on other answers."})
    survey = fields.String(allow_none=True)
    attributes = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), metadata={
        "description": "The asked attributes.<name> groups, by name; null where an interaction has none "
                       "(anonymous answers keep no interaction, so theirs is null)."})
    bucket = fields.String(metadata={"description": "Bucket start, ISO 8601 in the asked time zone."})
    day_only = fields.Boolean(metadata={
        "description": "Hour buckets only: true on the row of a day's anonymous answers, which keep only "
                       "their day; its bucket is that day's start."})
    n = fields.Integer()
    score = fields.Float(allow_none=True)
    ci95 = fields.List(fields.Float(), allow_none=True)
    small_sample = fields.Boolean()
    mean = fields.Float(allow_none=True)
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer())
    pct_easy = fields.Float(allow_none=True, metadata={"description": "CES and AES only."})
    pct_easy_ci95 = fields.List(fields.Float(), allow_none=True,
                                metadata={"description": "CES and AES only."})


class ScoresSchema(Schema):
    items = fields.List(fields.Nested(ScoreRowSchema))


class Cursor(Text):
    """The feed's opaque `after` cursor, read into (txid, id); anything else is a 422 naming it."""

    def _deserialize(self, value, attr, data, **kwargs):
        from survey_service.reports.feed import decode_cursor

        try:
            return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class FeedQuerySchema(HalfOpenRange):
    """GET /api/v1/responses query: filters, a page size and the cursor to page on from."""

    start = Instant(data_key="from", metadata={"description": "ISO 8601 with offset; inclusive, on "
                                                              "answered_at."})
    end = Instant(data_key="to", metadata={"description": "ISO 8601 with offset; exclusive."})
    survey_key = Text(data_key="survey", validate=validate.Length(1, 64),
                      metadata={"description": "Only this survey's answers."})
    metric = Text(validate=validate.OneOf(METRICS))
    channel = Text(validate=validate.Length(1, 16),
                   metadata={"description": "The channel the invitation went out on."})
    answer_channel = Text(validate=validate.Length(1, 16), metadata={
        "description": "The way the answer came back: web (the page or the answers API), sms or ivr."})
    agent = Text(validate=validate.Length(1, 128))
    team = Text(validate=validate.Length(1, 128))
    queue = Text(validate=validate.Length(1, 128))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000),
                           metadata={"description": "Rows per page (JSON only)."})
    after = Cursor(metadata={"description": "The `next_cursor` of the previous page (JSON only)."})



class FeedInteractionSchema(Schema):
    source = fields.String(required=True)
    external_id = fields.String(required=True)


class FeedRowSchema(Schema):
    """One answer as the feed shows it: an anonymous one has no customer or interaction, and only its day."""

    id = fields.String(required=True)
    survey = fields.String(required=True)
    metric = fields.String(required=True)
    score = fields.Integer(required=True)
    reason = fields.String(required=True, allow_none=True)
    anonymous = fields.Boolean(required=True)
    channel = fields.String(required=True,
                            metadata={"description": "The channel the invitation went out on."})
    answer_channel = fields.String(required=True, metadata={
        "description": "The way the answer came back: web (the page or the answers API), sms or ivr."})
    source = fields.String(required=True, metadata={
        "enum": list(RESPONSE_SOURCES),
        "description": "`survey`: answered here; `import`: past results from a file (no invitation)."})
    answered_at = fields.String(required=True, metadata={
        "description": "ISO 8601 with offset; the date only (YYYY-MM-DD) on an anonymous answer."})
    agent = fields.String(required=True, allow_none=True)
    team = fields.String(required=True, allow_none=True)
    queue = fields.String(required=True, allow_none=True)
    interaction_type = fields.String(required=True, allow_none=True)
    task = fields.String(required=True, allow_none=True,
                         metadata={"description": "The task of an agent's effort answer; null otherwise."})
    locale = fields.String(required=True, allow_none=True)
    customer_id = fields.String(allow_none=True, metadata={"description": "Not on anonymous answers."})
    interaction = fields.Nested(FeedInteractionSchema, metadata={
        "description": "Not on anonymous answers, nor on answers without an interaction."})


class FeedPageSchema(Schema):
    items = fields.List(fields.Nested(FeedRowSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True,
                                metadata={"description": "`after` for the next page; null on the last."})


class EffortGapQuerySchema(HalfOpenRange):
    """GET /api/v1/reports/effort-gap query: the interactions' end times, groups, a customer survey."""

    start = Instant(data_key="from", metadata={"description": "ISO 8601 with offset; inclusive, on the "
                                                              "interaction's end."})
    end = Instant(data_key="to", metadata={"description": "ISO 8601 with offset; exclusive."})
    group_by = DelimitedList(Text(validate=validate.OneOf(("team", "queue", "task"))), load_default=list,
                             metadata={"description": "Comma list of: team, queue, task (the task the "
                                                      "agent's answer named)."})
    survey_key = Text(data_key="survey", validate=validate.Length(1, 64), metadata={
        "description": "Only this customer survey (CES or CSAT) on the customer's side."})


class SideSchema(Schema):
    """One side's score over the group's interactions, as /api/v1/scores computes it."""

    n = fields.Integer()
    score = fields.Float(allow_none=True)
    ci95 = fields.List(fields.Float(), allow_none=True)
    small_sample = fields.Boolean()


class EffortGapRowSchema(Schema):
    """One group: only the asked group keys, the paired interactions, and each side's score."""

    team = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    task = fields.String(allow_none=True)
    interactions = fields.Integer(metadata={"description": "Interactions with the agent's answer and a "
                                                           "customer's."})
    aes = fields.Nested(SideSchema, metadata={"description": "The agents' effort (AES, mean on 1-5, "
                                                             "lower is easier)."})
    ces = fields.Nested(SideSchema, metadata={"description": "The customers' effort (CES, mean)."})
    csat = fields.Nested(SideSchema, metadata={"description": "The customers' satisfaction (CSAT, %)."})


class EffortGapSchema(Schema):
    items = fields.List(fields.Nested(EffortGapRowSchema))


# -- imports --------------------------------------------------------------------------------------

# How an imported answer may have reached the other tool: the invitation channels, or its web page.
IMPORT_CHANNELS = (*CHANNELS, "web")
_NAME = validate.Length(1, 128)


class ImportedResponseSchema(Schema):
    """One past answer from another tool, a row of `import responses`; survey, scale and anonymity
    are checked against the survey it names (reports.imports)."""

    id = Text(validate=_NAME, metadata={"description": "The other tool's answer id; keys re-runs."})
    survey = Text(required=True, validate=validate.Length(1, 64))
    score = fields.Integer(required=True, validate=SCORE)
    answered_at = Instant(required=True)
    agent = Text(validate=_NAME)
    team = Text(validate=_NAME)
    queue = Text(validate=_NAME)
    channel = Text(required=True, validate=validate.OneOf(IMPORT_CHANNELS))
    reason = Text(validate=validate.Length(max=MAX_REASON))
    interaction_type = Text(validate=validate.OneOf(INTERACTION_TYPES))
    locale = Locale()
    anonymous = fields.Boolean(load_default=False)

    @validates("answered_at")
    def _not_future(self, value, **kwargs):
        if value > utcnow() + timedelta(minutes=10):
            raise ValidationError("answered_at lies in the future.")

    @post_load
    def _locale(self, data, **kwargs):
        if data.get("locale"):
            data["locale"] = normalize_locale(data["locale"])
        return data
