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


def _content(kind: str, description: str) -> dict:
    return {"description": description, "content": {kind: {"schema": {"type": "string"}}}}


def page(description: str) -> dict:
    """A documented answer that is an HTML page."""
    return _content("text/html", description)


def twiml(description: str) -> dict:
    """A documented answer that is TwiML, the XML Twilio reads."""
    return _content("text/xml", description)


def json_answer(schema, description: str) -> dict:
    """A documented JSON answer of `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def signed_webhook(form, responses: dict, *parameters: dict) -> dict:
    """The doc of a Twilio webhook: its form, its signature header, and 400 and 403 besides `responses`."""
    return {"requestBody": form_body(form),
            "parameters": [{"in": "header", "name": "X-Twilio-Signature", "required": True,
                            "schema": {"type": "string"}}, *parameters],
            "responses": {**responses, "400": {"description": "A parameter Twilio never sends so."},
                          "403": {"description": "Not signed by Twilio for this URL."}}}


def form_body(schema) -> dict:
    """A documented form-encoded body (Twilio's webhooks, the survey page's form)."""
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


def complete_errors(api: Api) -> None:
    """Add to every operation the errors that follow from its shape, each with the error schema.

    A key (security) can be missing or lack the scope: 401, 403. A path names something that may
    not exist: 404. A body can be malformed, too large, not JSON or invalid: 400, 413, 415, 422; a
    API query can be invalid: 422. What only the view knows (409, 410, 429) it documents itself.
    Operations that answer pages answer their errors as pages.
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
            if path.startswith("/api/") and any(p.get("in") == "query"
                                                for p in operation.get("parameters", [])):
                codes.add(422)  # webargs reads API queries; pages and webhooks read their own
            for code in sorted(codes):
                responses.setdefault(str(code), spec.components.get_ref("response", _ERROR_NAMES[code]))
            pages = any("text/html" in r.get("content", {}) for r in responses.values())
            for code, response in list(responses.items()):
                if int(code) < 400 or "content" in response:
                    continue
                if pages:  # a person's request: errors come as pages too (errors.handle_http)
                    responses[code] = page(response.get("description") or _ERROR_NAMES[int(code)])
                elif "$ref" not in response:
                    response["content"] = {"application/json": {
                        "schema": spec.components.get_ref("schema", "Error")}}
