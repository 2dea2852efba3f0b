"""Operator endpoints: liveness and readiness (database and Redis reachable)."""

from __future__ import annotations

import redis
from flask import current_app, jsonify
from marshmallow import Schema, fields
from sqlalchemy import text

from survey_service.extensions import csrf, db
from survey_service.openapi import Blueprint, json_answer

bp = Blueprint("health", __name__, description="For operators: liveness and readiness.")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    checks = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "database and redis: ok or unreachable."})


@bp.get("/healthz")
@bp.doc(responses={"200": json_answer(HealthSchema, "The process serves requests.")})
def healthz():
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
@bp.doc(responses={"200": json_answer(HealthSchema, "Database and Redis answer."),
                   "503": json_answer(HealthSchema, "One of them does not; checks says which.")})
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
