"""Incentive codes: 10 random Crockford base32 characters, read aloud and typed as XXXXX-XXXXX.

Pure functions only. 50 random bits from `secrets`: unguessable, and a collision among millions of
codes is rare enough that the UNIQUE constraint's retry (service.issue) almost never runs.
"""

from __future__ import annotations

import secrets

# Crockford's base32: digits and letters without I, L, O and U (no 1/I/L or 0/O confusion).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP = 5
LENGTH = 2 * GROUP
# What people type for what they read: lower case, and the letters Crockford maps to digits.
_READS_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = str.maketrans("", "", "- \t")


def new_code() -> str:
    """A fresh random code, formatted XXXXX-XXXXX."""
    return formatted("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def formatted(chars: str) -> str:
    """Ten code characters as two groups of five."""
    return f"{chars[:GROUP]}-{chars[GROUP:]}"


def normalize(raw: str | None) -> str | None:
    """The code as stored for what a person typed (any case, I/L for 1, O for 0, with or without
    hyphen or spaces); None when it cannot be a code."""
    if not raw:
        return None
    chars = raw.upper().translate(_SEPARATORS).translate(_READS_AS)
    if len(chars) != LENGTH or any(c not in ALPHABET for c in chars):
        return None
    return formatted(chars)
