"""The OpenAPI document: one blueprint base for every route, and each error an operation can answer."""

from __future__ import annotations

import flask_smorest
from marshmallow import Schema, fields

from survey_service.bodies import BodyParser

_METHODS = ("get", "put", "post", "patch", "delete")
_ERROR_NAMES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                409: "CONFLICT", 410: "GONE", 413: "REQUEST_ENTITY_TOO_LARGE",
                415: "UNSUPPORTED_MEDIA_TYPE", 422: "UNPROCESSABLE_ENTITY",
                429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}


class ErrorSchema(Schema):
    """Every JSON error: the status, its name, a sentence, and per location the fields at fault."""

    code = fields.Integer(required=True, metadata={"description": "The HTTP status."})
    status = fields.String(required=True, metadata={"description": "Its name."})
    message = fields.String(metadata={"description": "What went wrong, in a sentence."})
    errors = fields.Dict(metadata={"description": "Per location (json, query, form), the fields at "
                                                  "fault and what is wrong with each."})


class Api(flask_smorest.Api):
    """flask-smorest's Api with our error shape, and no catch-all "default" response.

    Each operation lists the statuses it can answer (complete_errors), so a client, and a fuzzer
    checking for undocumented statuses, knows them all.
    """

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose JSON bodies go through BodyParser (415, 400, 422 as that parser says)."""

    ARGUMENTS_PARSER = BodyParser()


def html(description: str) -> dict:
    """A documented HTML page answer."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def complete_errors(api: Api) -> None:
    """Add to every operation the errors that follow from its shape, each with the error schema.

    A key (security) can be missing or lack the scope: 401, 403. A path names something that may
    not exist: 404. A body can be malformed, too large, not JSON or invalid: 400, 413, 415, 422; a
    query can be invalid: 422. What only the view knows (409, 410, 429) it documents itself.
    """
    spec = api.spec
    for path, operations in spec._paths.items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            codes = set()
            if operation.get("security"):
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                codes |= {400, 413, 415, 422}
            elif body:
                codes |= {400, 413}
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                codes.add(422)
            for code in sorted(codes):
                responses.setdefault(str(code), spec.components.get_ref("response", _ERROR_NAMES[code]))
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400 and "$ref" not in response \
                        and "content" not in response:
                    response["content"] = {"application/json": {
                        "schema": spec.components.get_ref("schema", "Error")}}
