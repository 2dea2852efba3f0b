"""One JSON error shape for the API and webhooks; HTML pages for people; no stack trace leaks."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

_MACHINE_PREFIXES = ("/api", "/twilio", "/healthz", "/readyz", "/metrics")


def wants_json() -> bool:
    """API clients and webhooks get JSON; people get pages."""
    return request.path.startswith(_MACHINE_PREFIXES)


def _json_error(exc: HTTPException):
    body = {"code": exc.code, "status": exc.name}
    data = getattr(exc, "data", None) or {}
    message = data.get("message") or exc.description
    if message:
        body["message"] = message
    if data.get("messages"):
        body["errors"] = data["messages"]
    elif data.get("errors"):
        body["errors"] = data["errors"]
    response = jsonify(body)
    response.status_code = exc.code
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response


def handle_http(exc: HTTPException):
    if wants_json():
        return _json_error(exc)
    template = "web/error.html"
    return render_template(template, code=exc.code, error=exc), exc.code


def handle_unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http(InternalServerError())


def init_app(app) -> None:
    """Replace flask-smorest's handler so pages under /s/ and /dashboard stay HTML."""
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
