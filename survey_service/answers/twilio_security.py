"""X-Twilio-Signature check for every /twilio/ webhook (DESIGN 3, rule 6)."""

from __future__ import annotations

import functools
import hmac
import logging
from urllib.parse import quote

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

from survey_service.answers.twilio_params import refuse_bad_params

log = logging.getLogger(__name__)


# What RFC 3986 allows unencoded in a path: used only when the server gives no raw request URI.
_PATH_SAFE = "/:@!$&'()*+,;=~"


def public_url() -> str:
    """The URL Twilio called: the configured public base (behind a TLS proxy), then the request URI.

    Twilio signs the URL as it was configured, percent-encoding kept (`call%2F1`, `%20`), so the
    raw request URI counts, not the decoded path: gunicorn gives it as RAW_URI, Werkzeug's servers
    and test client as REQUEST_URI too.
    """
    environ = request.environ
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not uri or uri[0] != "/":  # none, or an absolute-form target: rebuild it
        uri = quote(request.path, safe=_PATH_SAFE)
        query = request.query_string.decode("latin-1")
        if query:
            uri = f"{uri}?{query}"
    else:
        if not uri.isascii():  # raw UTF-8 the client did not encode, as WSGI's latin-1 string
            uri = uri.encode("latin-1").decode("utf-8", "replace")
        script = environ.get("SCRIPT_NAME")
        if script and uri.startswith(script):  # mounted under a prefix: the public base names it
            uri = uri[len(script):]
    return current_app.config["PUBLIC_BASE_URL"] + uri


class _SignedForm:
    """The request's form as twilio's validator reads it: through `getall`.

    Given Werkzeug's MultiDict, the validator first tries `getall` and falls back to `getlist` on
    the AttributeError, for every parameter; this spares it the exception.
    """

    __slots__ = ("form",)

    def __init__(self, form):
        self.form = form

    def __iter__(self):
        return iter(self.form)

    def getall(self, name: str) -> list[str]:
        return self.form.getlist(name)


def signature_ok() -> bool:
    """Whether this request carries Twilio's signature for our public URL and its form as sent."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    validator, url, form = RequestValidator(token), public_url(), _SignedForm(request.form)
    # Twilio signs the URL as configured, so one HMAC settles the usual request; validate() also
    # tries the URL with and without its port. compare_digest is the constant-time comparison, in C.
    if hmac.compare_digest(validator.compute_signature(url, form).encode(), signature.encode()):
        return True
    return validator.validate(url, form, signature)


def twilio_signed(view):
    """Decorator: 403 and nothing done unless the request is signed by Twilio; 400 for parameters
    it would never send (twilio_params)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not signature_ok():
            log.warning("rejected unsigned or forged Twilio webhook on %s", request.path)
            abort(403)
        refuse_bad_params()
        return view(*args, **kwargs)

    return wrapper
