"""/api/v1/interactions: platforms report that an interaction ended."""

import logging

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from survey_service.auth import require
from survey_service.bodies import json_kind
from survey_service.errors import field_paths
from survey_service.extensions import db
from survey_service.fastpath import commit_session, rollback_unit
from survey_service.interactions import service
from survey_service.interactions.schemas import (
    BatchResultSchema,
    BatchSchema,
    IntakeResultSchema,
    InteractionSchema,
)
from survey_service.openapi import Blueprint

log = logging.getLogger(__name__)

# One schema instance for every request: instantiating it (and its nested schemas) per request is costly.
_INTERACTION = InteractionSchema()

blp = Blueprint("interactions", __name__, url_prefix="/api/v1/interactions",
                description="Intake of ended interactions (idempotent per source + external_id).")


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
            abort(409, message=service.conflict_message(data["external_id"]))
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
        return {"items": [{"index": index, **_batch_item(item)}
                          for index, item in enumerate(data["items"])]}


def _error(code: int, status: str, **body) -> dict:
    return {"status": code, "body": {"code": code, "status": status, **body}}


def _batch_item(item) -> dict:
    """One batch item's status and body; it stands alone, committed or rolled back by itself."""
    if not isinstance(item, dict):
        return _error(422, "Unprocessable Entity", message="Each item must be a JSON object.",
                      errors={"json": {"_schema": [f"Expected a JSON object, not {json_kind(item)}."]}})
    try:
        loaded = _INTERACTION.load(item)
    except ValidationError as exc:
        return _error(422, "Unprocessable Entity", message="Invalid input: "
                      + ", ".join(field_paths(exc.messages)) + ".", errors={"json": exc.messages})
    try:
        result = service.record_interaction(loaded)
        db.session.commit()  # a later item's failure loses nothing before it
    except service.ConflictingReplay:
        db.session.rollback()
        return _error(409, "Conflict", message=service.conflict_message(loaded["external_id"]))
    except Exception:  # one item's fault must not cost the others their results
        rollback_unit()
        log.exception("batch item %s of source %s failed", loaded["external_id"], loaded["source"])
        return _error(500, "Internal Server Error", message="This item could not be recorded; "
                      "the others were. Send it again later.")
    return {"status": 201 if result.created else 200, "body": result.body}


@blp.route("/<source>/<path:external_id>")
class InteractionByKey(MethodView):
    @require("interactions:write")  # it shows contact details, which reports:read never reads
    @blp.alt_response(200, schema=IntakeResultSchema, description="With current statuses.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, source, external_id):
        """The interaction and each invitation's current status."""
        row = service.find_interaction(source, external_id)
        if row is None:
            abort(404, message=f"No interaction '{external_id}' from source '{source}'.")
        return service.interaction_body(row)
