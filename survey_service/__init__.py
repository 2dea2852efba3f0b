"""survey-service: post-interaction surveys (CSAT, CES, NPS, AES) by SMS, email, IVR and web."""

from __future__ import annotations

import os

from flask import Flask

from survey_service.config import build_config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: config, extensions, then one blueprint per step of the data flow."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("SURVEY_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder=os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(build_config(app.instance_path, test_config))

    from survey_service import bodies, errors, extensions, fastpath, i18n, logs, openapi, security, validation

    app.request_class = bodies.Request  # a streamed body past the limit is a 413
    app.json = bodies.JSONProvider(app)  # no NaN, no nesting too deep to decode
    validation.register_converters(app)  # route parameters the database can always look up

    logs.init_app(app)
    extensions.db.init_app(app)
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    extensions.api.init_app(app)
    extensions.celery_init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    fastpath.init_app(app)  # after the limiter, whose hooks it trims
    security.init_app(app)

    from survey_service import apidocs, health, home
    from survey_service.agents.api import blp as agents_api
    from survey_service.answers.api import blp as answers_api
    from survey_service.answers.twilio_sms import bp as twilio_sms
    from survey_service.answers.twilio_voice import bp as twilio_voice
    from survey_service.answers.views import bp as web_survey
    from survey_service.auth import register_security_scheme
    from survey_service.customers.api import blp as customers_api
    from survey_service.dashboard.views import bp as dashboard
    from survey_service.incentives.api import blp as incentives_api
    from survey_service.interactions.api import blp as interactions_api
    from survey_service.invitations.api import blp as opt_outs_api
    from survey_service.invitations.unsubscribe import bp as unsubscribe
    from survey_service.reports.api import blp as reports_api
    from survey_service.reports.rates_api import blp as rates_api
    from survey_service.surveys.api import blp as surveys_api

    register_security_scheme(extensions.api)
    for blueprint in (surveys_api, interactions_api, answers_api, reports_api, rates_api, incentives_api,
                      opt_outs_api, customers_api, agents_api):
        extensions.csrf.exempt(blueprint)  # bearer keys or tokens, not cookies
        extensions.api.register_blueprint(blueprint)
    for blueprint in (twilio_sms, twilio_voice):
        extensions.csrf.exempt(blueprint)  # Twilio signs these instead (answers.twilio_security)
        extensions.limiter.exempt(blueprint)  # signed by Twilio, which paces its own retries
        extensions.api.register_blueprint(blueprint)
    pages = (web_survey, unsubscribe, dashboard, health.bp, home.bp)
    for blueprint in pages:  # pages and probes, documented too
        extensions.api.register_blueprint(blueprint)
    app.register_blueprint(apidocs.bp)
    openapi.complete_errors(extensions.api)
    return app
