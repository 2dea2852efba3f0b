"""GET /api/v1/stats/response-rates: invitations by outcome, and the response rates they give."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate
from webargs.fields import DelimitedList

from survey_service.auth import require
from survey_service.openapi import Blueprint
from survey_service.reports import rates
from survey_service.reports.service import BUCKETS, UnknownSurvey
from survey_service.validation import HalfOpenRange, Instant, Text, TimeZone

blp = Blueprint("rates", __name__, url_prefix="/api/v1/stats", description="Response rates.")


class RatesQuerySchema(HalfOpenRange):
    """GET /api/v1/stats/response-rates query: a half-open range on creation, a survey, groups, a bucket."""

    start = Instant(data_key="from", metadata={"description": "Invitations created at or after; ISO 8601 "
                                                              "with offset."})
    end = Instant(data_key="to", metadata={"description": "Invitations created before; ISO 8601 with "
                                                          "offset."})
    group_by = DelimitedList(
        Text(validate=validate.OneOf(rates.GROUP_KEYS, error="Unknown group '{input}'; use {choices}.")),
        load_default=list, metadata={"description": f"Comma list of: {', '.join(rates.GROUP_KEYS)}."})
    bucket = Text(validate=validate.OneOf(BUCKETS))
    tz = TimeZone(load_default="UTC",
                  metadata={"description": "IANA time zone for buckets, such as Asia/Shanghai."})
    survey_key = Text(data_key="survey", validate=validate.Length(1, 64),
                      metadata={"description": "Only this survey's invitations."})



class TimeToRespondSchema(Schema):
    median = fields.Float()
    p90 = fields.Float()


class RateRowSchema(Schema):
    """One rate row; only the asked group keys, and `bucket` only when a bucket was asked for."""

    channel = fields.String(allow_none=True)
    survey = fields.String(allow_none=True)
    agent = fields.String(allow_none=True)
    team = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    interaction_type = fields.String(allow_none=True)
    bucket = fields.String(metadata={"description": "Bucket start, ISO 8601 in the asked time zone."})
    invited = fields.Integer(metadata={"description": "Every invitation made."})
    suppressed = fields.Dict(keys=fields.String(), values=fields.Integer(),
                             metadata={"description": "Suppressed invitations by reason."})
    eligible = fields.Integer(metadata={"description": "invited less suppressed."})
    sent = fields.Integer(metadata={"description": "Ever accepted by a provider."})
    delivered = fields.Integer(metadata={"description": "Ever delivered, or answered."})
    failed = fields.Integer()
    responded = fields.Integer()
    expired = fields.Integer()
    rate_end_to_end = fields.Float(allow_none=True, metadata={"description": "responded / eligible, %."})
    rate_delivered = fields.Float(allow_none=True, metadata={"description": "responded / delivered, %."})
    responded_after_reminder = fields.Integer()
    time_to_respond_seconds = fields.Nested(
        TimeToRespondSchema, allow_none=True,
        metadata={"description": "answered_at - sent_at over answered invitations; null when none."})


class RatesSchema(Schema):
    items = fields.List(fields.Nested(RateRowSchema))


@blp.route("/response-rates")
class ResponseRates(MethodView):
    @require("reports:read")
    @blp.arguments(RatesQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RatesSchema)
    @blp.alt_response(404, description="No survey with this key.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Invitation counts by outcome and response rates, grouped and bucketed."""
        try:
            items = rates.response_rates(**args)
        except UnknownSurvey:
            abort(404, message=f"No survey with key '{args['survey_key']}'.")
        return {"items": items}
