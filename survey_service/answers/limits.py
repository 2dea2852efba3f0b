"""Rate limits on answers: per token, and per client address (generous, for call-center NATs)."""

from __future__ import annotations

from flask import current_app, request

from survey_service.auth import hash_secret
from survey_service.extensions import limiter


def _token_key() -> str:
    token = request.view_args.get("token") if request.view_args else None
    if not token and request.is_json:
        body = request.get_json(silent=True)  # any JSON at all: the schema refuses it after this
        token = body.get("token") if isinstance(body, dict) else None
    # Only a hash reaches the limiter's storage: tokens are never kept in clear.
    return f"token:{hash_secret(str(token))[:24] if token else '-'}"


def answer_limits(methods: tuple[str, ...] = ("POST",)) -> list:
    """Decorators for every answer endpoint, and for the survey page that leads to one (GET).

    Each decorated view counts on its own, so looking at a survey page (a mail scanner following
    its links, say) never spends the budget of the answer itself.
    """
    return [
        limiter.limit(lambda: current_app.config["ANSWER_RATE_LIMIT_TOKEN"], key_func=_token_key,
                      methods=list(methods)),
        limiter.limit(lambda: current_app.config["ANSWER_RATE_LIMIT_ADDRESS"], methods=list(methods)),
    ]
