"""X-Twilio-Signature check for every /twilio/ webhook (DESIGN 3, rule 6)."""

from __future__ import annotations

import functools
import hmac
import logging

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

from survey_service.answers.twilio_params import refuse_bad_params

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio called: the configured public base (behind a TLS proxy), path and query."""
    url = current_app.config["PUBLIC_BASE_URL"] + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


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
