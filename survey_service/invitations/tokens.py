"""Survey tokens: 32 random URL-safe bytes given to the respondent; only the SHA-256 is kept."""

from __future__ import annotations

import secrets

from sqlalchemy import or_, select

from survey_service.auth import hash_secret
from survey_service.extensions import db
from survey_service.invitations.models import Invitation


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret(token)


def find_by_token(token: str) -> Invitation | None:
    """The invitation a token opens, its invitation's or its last reminder's; None if unknown or malformed."""
    if not token or len(token) > 100:
        return None
    digest = hash_secret(token)
    return db.session.scalar(select(Invitation).where(
        or_(Invitation.token_hash == digest, Invitation.reminder_token_hash == digest)))
