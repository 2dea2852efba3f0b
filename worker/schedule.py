"""Beat entries: the sweeper runs every SURVEY_SWEEP_SECONDS."""

from worker.app import celery_app, flask_app

celery_app.conf.beat_schedule = {
    "sweep": {
        "task": "survey.sweep",
        "schedule": float(flask_app.config["SWEEP_SECONDS"]),
        "options": {"expires": max(1.0, float(flask_app.config["SWEEP_SECONDS"]))},
    },
}
