"""/api/v1/scores and the other report endpoints."""

from flask import Response, jsonify, request, stream_with_context
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from survey_service.auth import require
from survey_service.openapi import Blueprint
from survey_service.reports import effort_gap, feed, service
from survey_service.reports.schemas import (
    EffortGapQuerySchema,
    EffortGapSchema,
    FeedPageSchema,
    FeedQuerySchema,
    ScoresQuerySchema,
    ScoresSchema,
)

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Scores and reports.")


@blp.route("/scores")
class Scores(MethodView):
    @require("reports:read")
    @blp.arguments(ScoresQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, ScoresSchema)
    @blp.alt_response(404, description="No survey with this key.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Score rows for one metric, with n, 95% interval and distribution, grouped and bucketed."""
        try:
            items = service.scores(**args)
        except service.UnknownSurvey:
            abort(404, message=f"No survey with key '{args['survey_key']}'.")
        except service.SurveyMetricMismatch as exc:
            abort(422, message="The survey does not match the metric.",
                  errors={"query": {"survey": [str(exc)]}})
        return {"items": items}


_STREAMS = {"text/csv": feed.csv_lines, "application/x-ndjson": feed.ndjson_lines}
_STREAM_DOC = {"200": {
    "description": "A page of answers in feed order. With Accept: text/csv or application/x-ndjson, every "
                   "matching row streamed instead (no paging): CSV headers are the JSON names, nested "
                   "ones dotted; NDJSON is one JSON object a line.",
    "content": {"application/json": {"schema": FeedPageSchema},
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}}}}}


@blp.route("/responses")
class Responses(MethodView):
    @require("reports:read")
    @blp.arguments(FeedQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, FeedPageSchema)
    @blp.alt_response(404, description="No survey with this key.")
    @blp.doc(security=[{"bearer": []}], responses=_STREAM_DOC)
    def get(self, args):
        """The answers feed: JSON pages, each row exactly once across pages; or every row as CSV or NDJSON."""
        kind = request.accept_mimetypes.best_match(["application/json", *_STREAMS])
        limit, after = args.pop("limit"), args.pop("after", None)
        try:
            if kind in _STREAMS:
                rows = feed.stream(**args)
            else:
                # Shaped by feed.page as FeedPageSchema documents it: dumping 1,000 rows through the
                # schema again took a third of a page's time.
                return jsonify(feed.page(limit, after, **args))
        except feed.UnknownSurvey:
            abort(404, message=f"No survey with key '{args['survey_key']}'.")
        body = stream_with_context(_STREAMS[kind](rows))
        return Response(body, mimetype=kind)


@blp.route("/reports/effort-gap")
class EffortGap(MethodView):
    @require("reports:read")
    @blp.arguments(EffortGapQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, EffortGapSchema)
    @blp.alt_response(404, description="No survey with this key.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """For the same interactions, the agent's AES beside the customer's CES and CSAT.

        Each side counts the answers tied to interactions that ended in the range. Only an agent's
        non-anonymous answer (and a customer's non-anonymous one) keeps its interaction, so only those
        can be paired: anonymous answers count in neither side here (they are in /api/v1/scores). A
        one-sided interaction counts in its own side's figures, not in `interactions`. A customer's
        answer is grouped by the task its interaction's agent named (null when the agent did not answer).
        """
        try:
            return {"items": effort_gap.effort_gap(**args)}
        except service.UnknownSurvey:
            abort(404, message=f"No survey with key '{args['survey_key']}'.")
        except effort_gap.NotACustomerSurvey as exc:
            abort(422, message="The survey is not a customer's CES or CSAT survey.",
                  errors={"query": {"survey": [str(exc)]}})
