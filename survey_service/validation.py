"""Field validators shared by the schemas: time zones, locales, clock times."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

from marshmallow import ValidationError

from survey_service.i18n import is_known_locale, parse_locale

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(value: str) -> None:
    """An IANA time zone name such as Asia/Shanghai."""
    if value not in _zones():
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
