"""/api/v1/opt-outs: admins read and change the list of addresses that are never contacted."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from survey_service.auth import require
from survey_service.extensions import db
from survey_service.invitations import service
from survey_service.invitations.schemas import (
    CHANNELS,
    OptOutInSchema,
    OptOutListSchema,
    OptOutQuerySchema,
    OptOutSchema,
    normalize_address,
)
from survey_service.openapi import Blueprint

blp = Blueprint("opt_outs", __name__, url_prefix="/api/v1/opt-outs",
                description="Addresses that asked not to be surveyed, per channel (admin).")


@blp.route("")
class OptOuts(MethodView):
    @require("admin")
    @blp.arguments(OptOutQuerySchema, location="query")
    @blp.response(200, OptOutListSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, query):
        """The list in the order it grew; ?after=<last id> reads the next page."""
        return {"items": service.list_opt_outs(query.get("channel"), query["after"], query["limit"])}

    @require("admin")
    @blp.arguments(OptOutInSchema)
    @blp.alt_response(201, schema=OptOutSchema, description="Put on the list.")
    @blp.alt_response(200, schema=OptOutSchema, description="Already on the list: that row.")
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Put an address on a channel's list; it is suppressed with `opted_out` on every survey."""
        row, created = service.opt_out(data["channel"], data["address"], data["reason"])
        db.session.commit()
        return OptOutSchema().dump(row), 201 if created else 200


@blp.route("/<channel>/<address>")
class OptOutByAddress(MethodView):
    @require("admin")
    @blp.response(204)
    @blp.doc(security=[{"bearer": []}])
    def delete(self, channel, address):
        """Take an address off a channel's list (as START does for SMS)."""
        try:
            address = normalize_address(channel, address) if channel in CHANNELS else None
        except ValidationError:
            address = None
        if address is None or not service.opt_in(channel, address):
            abort(404, message=f"No opt-out for this address on channel '{channel}'.")
        db.session.commit()
