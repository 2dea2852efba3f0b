"""Logging that never writes a phone number, email address, survey token or secret in clear.

Masking happens on the log record itself, not in one handler or on one logger: the service installs
`MaskedLogRecord` as the record factory, so every record any logger creates in the process masks its
message when formatted (`getMessage`), its traceback when a Formatter caches it (`exc_text` is masked
on assignment, and `Formatter.format` assigns it before writing it out) and its stack. That covers
records propagated from child loggers and handlers made later (gunicorn's, Celery's, pytest's) with
no filter to install on them; a filter on a logger sees neither. `RedactingFilter`, on the handlers
the service's processes write through, masks the rare record made without the factory.
Nothing runs until a handler formats a record: a disabled level costs what it always did.
"""

from __future__ import annotations

import logging
import re

from celery import signals
from gunicorn import glogging

_MASK = "***"

# Keys whose value is personal or secret wherever it is written: query strings and form bodies
# (`To=...`), JSON and Python reprs (`"token": "..."`, `'phone': '...'`), headers (`X-Twilio-Signature: ...`).
# A secret key may end a longer name (csrf_token, SMTP_PASSWORD, X-Twilio-Signature).
_PERSONAL_KEYS = r"to|from|caller|called|phone|phone_number|mobile|email|recipient"
_SECRET_KEYS = r"token|secret|password|passwd|signature|api_key|apikey|api-key|authorization"
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
_BARE = r"[^\s&,;'\"<>()\[\]{}]+"


def _key_value(match: re.Match) -> str:
    """The key and separator as written, the value masked (its quotes and an auth scheme kept)."""
    value = match["v"]
    if value[:1] in "\"'":
        return match["k"] + match["s"] + value[0] + _MASK + value[0]
    return match["k"] + match["s"] + (match.groupdict().get("scheme") or "") + _MASK


def _bare_token(match: re.Match) -> str:
    word = match[0]
    return word if word.islower() or word.isupper() else _MASK


_DIGITS = tuple("0123456789")

# Each rule: what it matches, its mask, and the lowercase strings of which the text must hold one for
# the rule to run at all (a substring test costs far less than a regular expression scan).
_RULES: list[tuple[str, object, tuple[str, ...]]] = [
    # key=value, key: value, "key": "value"
    (rf"(?i)(?P<k>{_SECRET_KEYS})(?P<s>[\"']?(?:=|\s*:\s*))"
     rf"(?P<v>{_QUOTED}|(?P<scheme>(?:bearer|basic|token|digest)\s+)?{_BARE})", _key_value,
     ("token", "secret", "passw", "signature", "api_key", "apikey", "api-key", "authorization")),
    (rf"(?i)(?<![\w-])(?P<k>{_PERSONAL_KEYS})(?P<s>=|[\"']\s*:\s*)(?P<v>{_QUOTED}|{_BARE})", _key_value,
     ("to=", "from=", "caller", "called", "phone", "mobile", "email", "recipient", "to\"", "to'",
      "from\"", "from'")),
    # credentials wherever they stand
    (r"\b(Bearer|Basic) (?=[\w.~+/=-]*[\d+/=])[\w.~+/=-]{8,}", rf"\1 {_MASK}", ("bearer ", "basic ")),
    (r"(?i)\b(AUTH (?:PLAIN|LOGIN|XOAUTH2)) [A-Za-z0-9+/=]+", rf"\1 {_MASK}", ("auth ",)),
    (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]+@", rf"\1{_MASK}:{_MASK}@", ("://",)),
    (r"(?<![A-Za-z])(sk|whsec)_[\w-]{4,}", rf"\1_{_MASK}", ("sk_", "whsec_")),
    # an HMAC in base64 standing alone (X-Twilio-Signature is one of SHA-1: 28 characters)
    (r"(?<![\w+/=])(?:[A-Za-z0-9+/]{27}|[A-Za-z0-9+/]{43})=(?![\w+/=])", _MASK, ("=",)),
    # email addresses, also URL-encoded (%40)
    (r"[\w.%+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", f"{_MASK}@{_MASK}", ("@", "%40")),
    # survey and unsubscribe tokens in a link, also URL-encoded
    (r"(/[su]/|%2[Ff][su]%2[Ff])[^/?#\s&'\"<>]+", rf"\1{_MASK}", ("/s/", "/u/", "%2fs%2f", "%2fu%2f")),
    (r"(?<![\w+])\+\d(?:[ ().-]{0,2}\d){6,14}(?!\d)", f"+{_MASK}", ("+",)),
    (r"%2[Bb]\d{7,15}(?!\d)", f"%2B{_MASK}", ("%2b",)),
    (r"(?:\((?<!\w\()\d{3}\) ?|\d(?<!\w\d)\d{2}[ .-])\d{3,4}[ .-]\d{4}(?!\w)", _MASK, _DIGITS),
    # a run of 10 to 15 digits, unless it ends a UUID (a Celery task id)
    (r"\d(?<![\w.]\d)(?<![0-9a-fA-F]{4}-\d)\d{9,14}(?!\w)", _MASK, _DIGITS),
    # a survey token alone: token_urlsafe(32) is 43 characters, of both cases
    (r"(?<![\w-])[\w-]{43}(?![\w-])", _bare_token, ("",)),
]
_COMPILED = [(re.compile(regex), mask, re.compile("|".join(map(re.escape, triggers))).search)
             for regex, mask, triggers in _RULES]
_literals: list[str] = []


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears (a Twilio auth token or SMTP password has no shape)."""
    if value and len(value) >= 8 and value not in _literals:
        _literals.append(value)
        _literals.sort(key=len, reverse=True)


def redact(text: str) -> str:
    """Mask phone numbers, email addresses, survey tokens, keys and secrets in a log text."""
    if not text:
        return text
    for value in _literals:
        if value in text:
            text = text.replace(value, _MASK)
    lower = text.lower()
    for pattern, mask, triggered in _COMPILED:
        if triggered(lower):
            text = pattern.sub(mask, text)
    return text


class _MaskedOnAssignment:
    """A record attribute stored masked: Formatter.format assigns exc_text before writing it out."""

    def __set_name__(self, owner, name: str) -> None:
        self.name, self.slot = name, f"_masked_{name}"

    def __get__(self, record, owner=None):
        if record is None:
            return self
        if self.name in record.__dict__:  # put there by logging.makeLogRecord, past __set__
            self.__set__(record, record.__dict__.pop(self.name))
        return record.__dict__.get(self.slot)

    def __set__(self, record, value) -> None:
        record.__dict__[self.slot] = redact(value) if isinstance(value, str) else value


class MaskedLogRecord(logging.LogRecord):
    """A log record whose message, traceback and stack come out masked through any Formatter."""

    exc_text = _MaskedOnAssignment()
    stack_info = _MaskedOnAssignment()

    def getMessage(self) -> str:
        return redact(super().getMessage())


class RedactingFilter(logging.Filter):
    """Masks a record made without the factory in place: message, traceback and stack, in the record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record, MaskedLogRecord):
            return True
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_filter = RedactingFilter()


def install() -> None:
    """Make every record of this process a MaskedLogRecord; safe to call again."""
    if logging.getLogRecordFactory() is not MaskedLogRecord:
        logging.setLogRecordFactory(MaskedLogRecord)


def filter_handlers(*loggers: logging.Logger) -> None:
    """Put the redacting filter on each handler of these loggers (once)."""
    for logger in loggers:
        for handler in logger.handlers:
            if _filter not in handler.filters:
                handler.addFilter(_filter)


def init_app(app) -> None:
    """Mask every log record of the process; the app's own secrets are masked by value too."""
    install()
    for name in ("TWILIO_AUTH_TOKEN", "SMTP_PASSWORD", "SECRET_KEY"):
        register_secret(app.config.get(name))
    filter_handlers(*(logging.getLogger(n) for n in ("", "werkzeug", "gunicorn.error", "gunicorn.access")),
                    app.logger)


@signals.after_setup_logger.connect(weak=False)
@signals.after_setup_task_logger.connect(weak=False)
def _mask_celery_handlers(logger: logging.Logger | None = None, **kwargs) -> None:
    """Celery's worker and beat make their handlers after the app is built: filter those too."""
    install()
    if logger is not None:
        filter_handlers(logger)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger (`--logger-class survey_service.logs.GunicornLogger`): error and access logs masked.

    The access log line carries the path and query (`/s/<token>`), so it must pass through masking;
    gunicorn makes its handlers in setup(), which a reload runs again.
    """

    def setup(self, cfg) -> None:
        install()
        super().setup(cfg)
        filter_handlers(self.error_log, self.access_log)
