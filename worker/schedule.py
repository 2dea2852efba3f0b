"""Beat entries: the sweeper every SURVEY_SWEEP_SECONDS, rollups every SURVEY_ROLLUP_SECONDS; the rest
every minute."""

from __future__ import annotations


def beat_schedule(sweep_seconds: float, rollup_seconds: float = 60.0) -> dict:
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
        "roll-up": {"task": "survey.roll_up", "schedule": float(rollup_seconds),
                    "options": {"queue": "survey", "expires": float(rollup_seconds)}},
        "sweep-incentives": {"task": "survey.sweep_incentives", "schedule": 60.0,
                             "options": {"queue": "survey", "expires": 60.0}},
    }
