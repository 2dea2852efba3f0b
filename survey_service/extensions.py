"""Extensions created unbound and attached in create_app()."""

from celery import Celery
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from survey_service.db import Base
from survey_service.openapi import Api

db = SQLAlchemy(model_class=Base)
api = Api()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
celery = Celery("survey_service")


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
        task_routes={"survey.send_invitation": {"queue": "send"}, "survey.send_reminder": {"queue": "send"}},
        timezone="UTC",
        beat_schedule_filename=app.config.get("BEAT_SCHEDULE_FILE")
        or f"{app.instance_path}/celerybeat-schedule",
    )
    celery.conf.update(app.config.get("CELERY", {}))
    celery.Task = FlaskTask
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
