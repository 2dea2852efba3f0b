"""Beat entries: the sweeper every SURVEY_SWEEP_SECONDS; reconciliation and clean-ups every minute."""

from __future__ import annotations


def beat_schedule(sweep_seconds: float) -> dict:
    """The beat table; a sweep that waited longer than one period is dropped, the next one covers it."""
    period = float(sweep_seconds)
    return {
        "sweep": {
            "task": "survey.sweep",
            "schedule": period,
            "options": {"queue": "survey", "expires": max(1.0, period)},
        },
        "reconcile": {"task": "survey.reconcile", "schedule": 60.0,
                      "options": {"queue": "survey", "expires": 60.0}},
        "forget-conversations": {"task": "survey.forget_conversations", "schedule": 60.0,
                                 "options": {"queue": "survey", "expires": 60.0}},
        "sweep-incentives": {"task": "survey.sweep_incentives", "schedule": 60.0,
                             "options": {"queue": "survey", "expires": 60.0}},
    }
