"""Fields and validators shared by the schemas: storable text, instants, time zones, locales, clocks."""

from __future__ import annotations

import re
from datetime import UTC
from functools import cache
from zoneinfo import available_timezones

from marshmallow import Schema, ValidationError, fields, validates_schema
from werkzeug.routing import IntegerConverter, PathConverter, UnicodeConverter

from survey_service.i18n import is_known_locale, parse_locale

CLOCK_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
_CLOCK = re.compile(CLOCK_PATTERN)
# NUL, which PostgreSQL refuses in text, and lone UTF-16 surrogates, which no UTF-8 can carry.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: str) -> str | None:
    """The first character of `value` the database cannot store, or None; ASCII is checked for NUL only."""
    if value.isascii():
        return "\x00" if "\x00" in value else None
    found = _UNSTORABLE.search(value)
    return found.group() if found else None


def storable(value: str) -> str:
    """`value` without the characters the database cannot store, for free text people typed."""
    return value if unstorable(value) is None else _UNSTORABLE.sub("", value)


def refuse_unstorable(value: str) -> None:
    """Validator: a 422 naming the character, instead of a database error on insert."""
    char = unstorable(value)
    if char is not None:
        raise ValidationError(f"Holds a character that cannot be stored: U+{ord(char):04X}.")


class Text(fields.String):
    """A string the database can store: no NUL, no lone surrogate (JSON can carry both)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        refuse_unstorable(text)
        return text


class Instant(fields.AwareDateTime):
    """An ISO 8601 time with its UTC offset, which must also exist once converted to UTC."""

    default_error_messages = {
        "invalid": "Not an ISO 8601 time; use one such as 2026-11-01T09:30:00+08:00.",
        "invalid_awareness": "Add the UTC offset to the time, such as 2026-11-01T09:30:00+08:00 or "
                             "2026-11-01T01:30:00Z.",
        "range": "This time lies outside the years 1 to 9999 once converted to UTC.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault("description", "ISO 8601 with a UTC offset, such as "
                                                     "2026-11-01T09:30:00+08:00.")
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            instant.astimezone(UTC)
        except OverflowError:
            raise self.make_error("range") from None
        return instant


class HalfOpenRange(Schema):
    """A query whose `from` (start) and `to` (end), when both given, must come in that order."""

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and start >= end:
            raise ValidationError("from must be earlier than to.", "from")


@cache
def zones() -> tuple[str, ...]:
    """Every IANA time zone name this machine knows, sorted (also the OpenAPI enum)."""
    return tuple(sorted(available_timezones()))


@cache
def _zone_set() -> frozenset[str]:
    return frozenset(zones())


def validate_timezone(value: str) -> None:
    """An IANA time zone name such as Asia/Shanghai."""
    if value not in _zone_set():
        raise ValidationError(f"'{value}' is not an IANA time zone (for example Asia/Shanghai).")


def validate_locale(value: str) -> None:
    """A language tag Babel knows, such as en, zh-Hans or zh-TW."""
    if is_known_locale(value):
        return
    try:
        parse_locale(value)  # for its message, which names what is wrong
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def validate_clock(value: str) -> None:
    """A 24-hour HH:MM time."""
    if not _CLOCK.match(value):
        raise ValidationError("Use a 24-hour HH:MM time, such as 21:00.")


def TimeZone(**kwargs) -> Text:
    """A field holding an IANA time zone name, documented as the enum of names it accepts."""
    metadata = {"enum": list(zones()), "description": "IANA time zone, such as Asia/Shanghai.",
                **kwargs.pop("metadata", {})}
    return Text(validate=validate_timezone, metadata=metadata, **kwargs)


def Clock(**kwargs) -> Text:
    """A field holding a 24-hour HH:MM clock time, documented with its pattern."""
    return Text(validate=validate_clock, metadata={"pattern": CLOCK_PATTERN, "example": "21:00"},
                **kwargs)


LOCALE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$"


def Locale(**kwargs) -> Text:
    """A field holding a language tag Babel knows (en, zh-Hans, zh-TW), documented by its shape."""
    return Text(validate=[fields.validate.Length(2, 35), validate_locale],
                metadata={"pattern": LOCALE_PATTERN, "example": "zh-Hans"}, **kwargs)


# -- route and query parameters --------------------------------------------------------------------

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers


def parse_id(raw: str | None) -> int | None:
    """A row id written in a query string (1 to MAX_ID, ASCII digits), else None."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


class IdConverter(IntegerConverter):
    """`<int:...>` routes match only ids a database integer can hold: a larger number is a 404."""

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class TextConverter(UnicodeConverter):
    """The default route segment, without NUL (which PostgreSQL refuses): `%00` is a 404."""

    def __init__(self, map, minlength=1, maxlength=None, length=None):
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]")


class TextPathConverter(PathConverter):
    """`<path:...>`, for ids that may hold a slash (`call/1` arrives as `call%2F1`), without NUL."""

    regex = "[^/\x00][^\x00]*?"


def register_converters(app) -> None:
    """Route parameters that can always be looked up: before any blueprint adds its rules."""
    app.url_map.converters.update(default=TextConverter, string=TextConverter, path=TextPathConverter,
                                  int=IdConverter)
