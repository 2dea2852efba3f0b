"""/api/v1/incentives: the shop redeems codes; reports read the funnel and the holdout lift."""

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from survey_service.auth import require
from survey_service.extensions import db
from survey_service.incentives import service
from survey_service.incentives.schemas import CodeStateSchema, RedeemInSchema, StatsQuerySchema, StatsSchema
from survey_service.openapi import Blueprint

blp = Blueprint("incentives", __name__, url_prefix="/api/v1/incentives",
                description="Incentive codes: redemption, and the funnel with its holdout lift.")


@blp.route("/<code>/redeem")
class Redeem(MethodView):
    @require("incentives:write")
    @blp.arguments(RedeemInSchema)
    @blp.response(200, CodeStateSchema)
    @blp.alt_response(404, description="No such code.")
    @blp.alt_response(409, description="Already redeemed for another order.")
    @blp.alt_response(410, description="The code has expired.")
    @blp.doc(security=[{"bearer": []}])
    def post(self, data, code):
        """Redeem a code for an order; the same order again answers the same (idempotent)."""
        try:
            body = service.redeem(code, data["order_id"])
        except service.RedeemError as exc:
            db.session.rollback()
            abort(exc.status, message=str(exc))
        db.session.commit()
        return body


@blp.route("/stats")
class Stats(MethodView):
    @require("reports:read")
    @blp.arguments(StatsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, StatsSchema)
    @blp.alt_response(404, description="No survey with this key.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Offered, held out, earned, redeemed; response rates of both arms and the lift."""
        try:
            return service.incentive_stats(**args)
        except service.UnknownSurvey:
            abort(404, message=f"No survey with key '{args['survey_key']}'.")
