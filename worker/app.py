"""The Celery app, built from create_app(): `celery -A worker.app worker`."""

from survey_service import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

import worker.schedule  # noqa: E402  (beat entries)
import worker.tasks  # noqa: E402,F401  (task registration)
