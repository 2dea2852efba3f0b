"""Extensions created unbound and attached in create_app()."""

import functools

from celery import Celery
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from survey_service.db import Base

db = SQLAlchemy(model_class=Base)
api = Api()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
celery = Celery("survey_service")


class CookieSessionOnDemand(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with no signing work for requests that carry no session cookie.

    API calls and webhooks never send one; only the web survey's form (its CSRF token) uses it.
    """

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ or app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def trim_limiter_hooks(app) -> None:
    """Keep Flask-Limiter's per-request hooks off requests that never meet a limit.

    Every limit here is declared on its view (@limiter.limit), which checks itself when the view
    runs: the global check before each request is only needed for default or application limits,
    and the after-request and teardown hooks (X-RateLimit headers, per-request state) only act on
    requests whose view checked a limit. Webhooks and unlimited views skip all three.
    """
    with app.app_context():
        if not (limiter.limit_manager.default_limits or limiter.limit_manager.application_limits):
            app.before_request_funcs[None].remove(limiter._check_request_limit)

    def when_used(hook):
        @functools.wraps(hook)
        def run(arg=None):  # the response after a request, the exception at teardown
            used = hasattr(request_ctx._get_current_object(), "_limiter_request_context")
            return hook(arg) if used else arg

        return run

    for funcs in (app.after_request_funcs[None], app.teardown_request_funcs[None]):
        for i, hook in enumerate(funcs):
            if getattr(hook, "func", hook).__qualname__.startswith("Limiter."):
                funcs[i] = when_used(hook)


def celery_init_app(app) -> Celery:
    """Bind the Celery app to Flask: every task runs inside an app context, broker from config."""
    from celery import Task

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery.conf.update(
        broker_url=app.config["REDIS_URL"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        broker_connection_retry_on_startup=True,
        task_default_queue="survey",
        task_routes={"survey.send_invitation": {"queue": "send"}},
        timezone="UTC",
        beat_schedule_filename=app.config.get("BEAT_SCHEDULE_FILE")
        or f"{app.instance_path}/celerybeat-schedule",
    )
    celery.conf.update(app.config.get("CELERY", {}))
    celery.Task = FlaskTask
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
