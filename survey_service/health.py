"""Operator endpoints: liveness and readiness (database and Redis reachable)."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from survey_service.extensions import csrf, db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Database and Redis both answer; 503 naming the one that does not."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any driver error means not ready
        current_app.logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        return "unreachable"
    finally:
        db.session.rollback()


def _check_redis() -> str:
    try:
        client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=1,
                                      socket_connect_timeout=1)
        client.ping()
        return "ok"
    except redis.RedisError:
        return "unreachable"


csrf.exempt(bp)
