"""The Celery app, built from create_app(): `celery -A worker.app worker` and `celery -A worker.app beat`."""

from survey_service import create_app
from worker.schedule import beat_schedule

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = beat_schedule(flask_app.config["SWEEP_SECONDS"],
                                             flask_app.config["ROLLUP_SECONDS"])

import worker.tasks  # noqa: E402,F401  (task registration, after the app is configured)
