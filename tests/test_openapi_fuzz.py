"""Schemathesis over the service's own OpenAPI document: no 5xx, and every answer as documented.

Each operation is fuzzed with schema-valid and schema-invalid input, with an admin key. The Twilio
webhooks are signed on arrival, so their fuzzed parameters reach the handlers; path parameters name
rows that exist (a survey, an interaction, an invitation and its token), so reads and changes run on
real data, not only on 404s.
"""

from __future__ import annotations

import io
import itertools
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from twilio.request_validator import RequestValidator

from survey_service.answers.twilio_security import public_url

pytestmark = pytest.mark.fuzz

AUTH_TOKEN = "fuzz-auth-token-0123456789abcdef"
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.content_type_conformance]
EXAMPLES = int(os.environ.get("SURVEY_FUZZ_EXAMPLES", "80"))  # per operation; more for a longer hunt


class SignAsTwilio:
    """WSGI middleware: gives every /twilio/ request the signature Twilio would compute for it."""

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/twilio/"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            with self.app.request_context(dict(environ)) as ctx:
                signature = RequestValidator(AUTH_TOKEN).compute_signature(public_url(),
                                                                           ctx.request.form)
            environ["HTTP_X_TWILIO_SIGNATURE"] = signature
            environ["wsgi.input"] = io.BytesIO(body)
        return self.wsgi_app(environ, start_response)


def _incentive_code(app, invitation_id: int) -> str:
    """A code the invitation earned, for the redemption endpoint's {code}."""
    from datetime import timedelta

    from survey_service.db import utcnow
    from survey_service.extensions import db
    from survey_service.incentives.codes import new_code
    from survey_service.incentives.models import IncentiveCode
    from survey_service.invitations.models import Invitation

    with app.app_context():
        inv = db.session.get(Invitation, invitation_id)
        code = IncentiveCode(code=new_code(), invitation_id=inv.id, survey_id=inv.survey_id,
                             issued_at=utcnow(), expires_at=utcnow() + timedelta(days=90))
        db.session.add(code)
        db.session.commit()
        return code.code


@pytest.fixture
def api_schema(app, sent, admin, monkeypatch):
    """The app's document, loaded by schemathesis, with path parameters naming real rows."""
    token, invitation_id = sent()
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setattr(app, "wsgi_app", SignAsTwilio(app, app.wsgi_app))
    from survey_service.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", False)  # 429 is documented, but would hide the rest
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=EXAMPLES)
    from survey_service.invitations.unsubscribe import unsubscribe_url

    with app.app_context():
        unsubscribe = unsubscribe_url(invitation_id, "sms").rsplit("/", 1)[1]
    schema.real_rows = {"token": token, "invitation_id": invitation_id, "key": "csat-call",
                        "source": "pbx", "external_id": "call-1", "unsubscribe_token": unsubscribe,
                        "channel": "sms", "address": "+8613800138000",
                        "code": _incentive_code(app, invitation_id)}
    return schema


def fuzz(operation, headers: dict, real_rows: dict) -> list[str]:
    """Run one operation's examples; the failure Hypothesis settles on, if any, as text.

    Every other example has its path parameters (and a body's token) replaced by real rows' names.
    """
    failures, examples = [], itertools.count()
    if operation.path.startswith("/u/"):  # an unsubscribe link's token, not a survey's
        real_rows = {**real_rows, "token": real_rows["unsubscribe_token"]}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize=os.environ.get("SURVEY_FUZZ_RANDOM") != "1",
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy())
    def run(case):
        if next(examples) % 2:
            if case.path_parameters:
                case.path_parameters.update({k: v for k, v in real_rows.items()
                                             if k in case.path_parameters})
            if isinstance(case.body, dict) and "token" in case.body:
                case.body["token"] = real_rows["token"]
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Exception as exc:  # schemathesis' failure groups, Hypothesis' errors alike
        failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
    return failures


def test_every_operation_answers_as_documented(api_schema, admin):
    """Each operation in turn; the failures of all of them are reported together."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    failures = [failure for operation in operations
                for failure in fuzz(operation, admin, api_schema.real_rows)]
    assert len(operations) >= 23, "the document lost operations"
    assert not failures, "\n\n".join(failures)
