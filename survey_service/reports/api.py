"""/api/v1/scores and the other report endpoints."""

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from survey_service.auth import require
from survey_service.openapi import Blueprint
from survey_service.reports import service
from survey_service.reports.schemas import ScoresQuerySchema, ScoresSchema

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
