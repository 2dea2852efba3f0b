"""X-Twilio-Signature check for every /twilio/ webhook (DESIGN 3, rule 6)."""

from __future__ import annotations

import functools
import hmac
import logging

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio called: the configured public base (behind a TLS proxy), path and query."""
    url = current_app.config["PUBLIC_BASE_URL"] + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def signature_ok() -> bool:
    """Whether this request carries Twilio's signature for our public URL and its form as sent."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    validator, url = RequestValidator(token), public_url()
    # Twilio signs the URL as configured, so one HMAC settles the usual request; validate() also
    # tries the URL with and without its port, and the other signing algorithms. compare_digest is
    # the constant-time comparison, in C.
    if hmac.compare_digest(validator.compute_signature(url, request.form).encode(), signature.encode()):
        return True
    return validator.validate(url, request.form, signature)


def twilio_signed(view):
    """Decorator: 403 and nothing done unless the request is signed by Twilio."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not signature_ok():
            log.warning("rejected unsigned or forged Twilio webhook on %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper
