"""Logging that never writes a phone number, email address, token or key in clear."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"\+\d{7,15}"), "+***"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "***@***"),
    (re.compile(r"/s/[A-Za-z0-9_-]{20,}"), "/s/***"),
    (re.compile(r"sk_[A-Za-z0-9_-]{10,}"), "sk_***"),
]


def redact(text: str) -> str:
    """Mask personal data and secrets in a log line."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


class RedactingFilter(logging.Filter):
    """Applies redact() to every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def init_app(app) -> None:
    """Put the redacting filter on every handler the service and werkzeug/gunicorn use."""
    flt = RedactingFilter()
    for name in ("", "survey_service", "werkzeug", "gunicorn.access", "gunicorn.error", "celery"):
        logger = logging.getLogger(name)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)
    app.logger.addFilter(flt)
