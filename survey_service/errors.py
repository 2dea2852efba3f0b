"""One JSON error shape for the API and webhooks; HTML pages for people; no stack trace leaks."""

from __future__ import annotations

import logging
import time

from flask import jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

_MACHINE_PREFIXES = ("/api", "/twilio", "/healthz", "/readyz", "/metrics")


def wants_json() -> bool:
    """API clients and webhooks get JSON; people get pages."""
    return request.path.startswith(_MACHINE_PREFIXES)


def retry_after(exc: RateLimitExceeded) -> int:
    """Seconds until the limit that was reached lets a request through again (at least 1)."""
    from survey_service.extensions import limiter

    current = limiter.current_limit
    if current is None:
        return int(exc.limit.limit.get_expiry())
    return max(1, int(current.reset_at - time.time()))  # as the Retry-After header counts


def rate_limit_message(exc: RateLimitExceeded) -> str:
    """What limit was reached and when to try again, for people and clients alike."""
    return (f"Too many requests: the limit is {exc.limit.limit}. "
            f"Try again in {retry_after(exc)} seconds.")


def field_paths(messages: dict, prefix: str = "") -> list[str]:
    """The dotted paths of the fields a validation error names ({"json": {"order": {"amount": ..}}})."""
    paths = []
    for name, inner in messages.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(inner, dict) and inner:
            paths.extend(field_paths(inner, path if prefix or name not in _LOCATIONS else ""))
        else:
            paths.append(path)
    return paths


_LOCATIONS = ("json", "query", "form", "view_args", "headers")


def _json_error(exc: HTTPException):
    body = {"code": exc.code, "status": exc.name}
    data = getattr(exc, "data", None) or {}
    if isinstance(exc, RateLimitExceeded):
        data = {**data, "message": rate_limit_message(exc)}
    elif data.get("messages") and not data.get("message"):
        data = {**data, "message": "Invalid input: " + ", ".join(field_paths(data["messages"])) + "."}
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


# Statuses with a page of their own words in the catalogs; any other shows the "other" page.
_PAGE_TEXTS = frozenset({400, 404, 405, 413, 429, 500})


def _survey_token() -> str | None:
    """The token of a survey path (/s/<token>...), if the request is on one."""
    if not request.path.startswith("/s/"):
        return None
    return (request.view_args or {}).get("token")


def _page_locale(token: str | None) -> str:
    """The error page's language: ?lang=, else the invitation's (on a survey path), else the browser's."""
    from survey_service.i18n import browser_locale, normalize_locale

    if token is None or request.args.get("lang"):
        return browser_locale()
    try:
        from survey_service.invitations.tokens import find_by_token

        inv = find_by_token(token)
    except Exception:  # the database may be why this page is shown
        log.warning("no invitation lookup for an error page", exc_info=True)
        return browser_locale()
    return normalize_locale(inv.locale) if inv is not None else browser_locale()


def handle_http(exc: HTTPException):
    if wants_json():
        return _json_error(exc)
    token = _survey_token()
    locale = _page_locale(token)
    key = f"error_{exc.code if exc.code in _PAGE_TEXTS else 'other'}"
    # A refused form (CSRF) links back to its survey, so the respondent can load it afresh.
    retry_url = request.full_path.rstrip("?") if token and exc.code == 400 else None
    return render_template("web/error.html", code=exc.code, error=exc, key=key, locale=locale,
                           retry_url=retry_url), exc.code


def handle_unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http(InternalServerError())


def init_app(app) -> None:
    """Replace flask-smorest's handler so pages under /s/ and /dashboard stay HTML."""
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
