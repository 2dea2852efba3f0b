"""API keys with scopes: only a SHA-256 of each key is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime
from functools import wraps

from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy import JSON, Row, String, bindparam, lambda_stmt, select
from sqlalchemy.orm import Mapped, mapped_column

from survey_service.db import Base, utcnow
from survey_service.extensions import db
from survey_service.fastpath import unit_connection

SCOPES = ("interactions:write", "reports:read", "incentives:write", "agent", "admin")
KEY_PREFIX = "sk_"


class ApiKey(Base):
    """A named key with its scopes; `agent_id` ties an `agent` key to one agent."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list] = mapped_column(JSON)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a key or token; what the database keeps instead of the secret.

    Any string hashes, a lone surrogate from a JSON body included (it matches no stored hash).
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(name: str, scopes: list[str], agent_id: str | None = None) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the clear key, which is never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError("at least one scope is required")
    if "agent" in scopes and not agent_id:
        raise ValueError("an agent key needs --agent AGENT_ID")
    if agent_id is not None and "agent" not in scopes:
        raise ValueError("--agent belongs to a key with the `agent` scope")
    clear = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_secret(clear), hint=clear[:10],
                 scopes=sorted(set(scopes)), agent_id=agent_id)
    db.session.add(row)
    db.session.flush()
    return row, clear


def revoke_key(key_id: int) -> bool:
    """Mark a key revoked; False when there is no such live key."""
    row = db.session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    _live_keys.pop(row.key_hash, None)
    return True


# Every API request looks its key up: the statement is built once, and reads only what `require` needs.
_key_by_hash = (select(ApiKey.id, ApiKey.name, ApiKey.scopes, ApiKey.agent_id, ApiKey.revoked_at)
                .where(ApiKey.key_hash == bindparam("key_hash")))
_KEY_BY_HASH = lambda_stmt(lambda: _key_by_hash)  # cached on the lambda, not re-keyed per call


# Live keys by hash, each trusted for API_KEY_CACHE_SECONDS: looking the key up is otherwise a round
# trip on every API call. A revocation takes effect at once in the process that makes it, and within
# that time in the others. Unknown and revoked keys are never kept.
_live_keys: dict[str, tuple[float, Row]] = {}
_LIVE_KEYS_MAX = 1024


def key_from_request() -> Row | None:
    """The live key named by the Authorization header, if any (id, name, scopes, agent_id)."""
    header = request.headers.get("Authorization", "")
    scheme, _, clear = header.partition(" ")
    if scheme.lower() != "bearer" or not clear.strip():
        return None
    digest, now = hash_secret(clear.strip()), time.monotonic()
    known = _live_keys.get(digest)
    if known is not None and known[0] > now:
        return known[1]
    row = unit_connection().execute(_KEY_BY_HASH, {"key_hash": digest}).first()
    if row is None or row.revoked_at is not None:
        _live_keys.pop(digest, None)
        return None
    seconds = current_app.config["API_KEY_CACHE_SECONDS"]
    if seconds > 0:
        if len(_live_keys) >= _LIVE_KEYS_MAX:
            _live_keys.clear()
        _live_keys[digest] = (now + seconds, row)
    return row


def require(*scopes: str):
    """Decorator: 401 without a valid key, 403 unless the key has one of `scopes` or admin."""

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            key = key_from_request()
            if key is None:
                abort(401, message="A valid API key is required: Authorization: Bearer <key>.",
                      headers={"WWW-Authenticate": 'Bearer realm="survey-service"'})
            if "admin" not in key.scopes and not set(scopes) & set(key.scopes):
                abort(403, message=f"This key lacks the scope: {' or '.join(scopes)}.")
            g.api_key = key
            return fn(*args, **kwargs)

        wrapper._required_scopes = scopes
        return wrapper

    return decorator


def register_security_scheme(api) -> None:
    """Name the bearer scheme in the OpenAPI document."""
    if "bearer" not in api.spec.components.security_schemes:
        api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
