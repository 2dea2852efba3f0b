"""/api/v1/interactions: platforms report that an interaction ended."""

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from survey_service.auth import require
from survey_service.extensions import db
from survey_service.fastpath import commit_session
from survey_service.interactions import service
from survey_service.interactions.schemas import (
    BatchResultSchema,
    BatchSchema,
    IntakeResultSchema,
    InteractionSchema,
)
from survey_service.openapi import Blueprint

# One schema instance for every request: instantiating it (and its nested schemas) per request is costly.
_INTERACTION = InteractionSchema()

blp = Blueprint("interactions", __name__, url_prefix="/api/v1/interactions",
                description="Intake of ended interactions (idempotent per source + external_id).")


def _conflict(external_id: str) -> str:
    return (f"An interaction with external_id '{external_id}' from this source was already "
            "recorded with a different body.")


@blp.route("")
class Interactions(MethodView):
    @require("interactions:write")
    @blp.arguments(_INTERACTION)
    @blp.alt_response(201, schema=IntakeResultSchema, description="Recorded.")
    @blp.alt_response(200, schema=IntakeResultSchema, description="A replay: the first body.")
    @blp.alt_response(409, description="Same source and external_id, different body.")
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """An interaction ended: record it and plan its survey invitations."""
        try:
            result = service.record_interaction(data)
        except service.ConflictingReplay:
            db.session.rollback()
            abort(409, message=_conflict(data["external_id"]))
        commit_session()  # on PostgreSQL the event was stored by one statement, already committed
        return result.body, 201 if result.created else 200


@blp.route("/batch")
class InteractionBatch(MethodView):
    @require("interactions:write")
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchResultSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Up to 1,000 interactions; each item gets the status and body it would get alone."""
        schema = _INTERACTION
        results = []
        for index, item in enumerate(data["items"]):
            try:
                loaded = schema.load(item if isinstance(item, dict) else {"_": item})
            except ValidationError as exc:
                results.append({"index": index, "status": 422,
                                "body": {"code": 422, "status": "Unprocessable Entity",
                                         "errors": {"json": exc.messages}}})
                continue
            try:
                result = service.record_interaction(loaded)
            except service.ConflictingReplay:
                db.session.rollback()
                results.append({"index": index, "status": 409,
                                "body": {"code": 409, "status": "Conflict",
                                         "message": _conflict(loaded["external_id"])}})
                continue
            db.session.commit()  # each item stands alone: a later failure loses nothing before it
            results.append({"index": index, "status": 201 if result.created else 200,
                            "body": result.body})
        return {"items": results}


@blp.route("/<source>/<external_id>")
class InteractionByKey(MethodView):
    @require("interactions:write", "reports:read")
    @blp.alt_response(200, schema=IntakeResultSchema, description="With current statuses.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, source, external_id):
        """The interaction and each invitation's current status."""
        row = service.find_interaction(source, external_id)
        if row is None:
            abort(404, message=f"No interaction '{external_id}' from source '{source}'.")
        return service.interaction_body(row)
