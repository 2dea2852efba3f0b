"""Survey rules: metric defaults, creation, patching, and the four surveys of a fresh database."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import select

from survey_service.extensions import db
from survey_service.surveys.models import Survey
from survey_service.surveys.schemas import SurveySchema

COMMON_DEFAULTS = {
    "texts": {}, "interaction_types": [], "channels": ["email"], "delay_seconds": 300,
    "expires_after_seconds": 604800, "reminder": None, "sample_rate": 1.0, "throttle_days": 30,
    "quiet_hours": None, "timezone": "UTC", "anonymity": "optional", "incentive": None,
    "tasks": None, "active": True,
}


class SurveyExists(Exception):
    """A survey with this key already exists."""


def default_positive_min(metric: str, lo: int, hi: int, higher_is_easier: bool | None) -> int | None:
    """The 'positive' (CSAT) or 'easy' (CES, AES) threshold a survey gets when it names none.

    CSAT: top-2-box on 1-5 (4), 'yes' on yes/no (1), 2-3 on 1-3 (2), 8-10 on 1-10 (8).
    CES/AES: the easy end's upper ~third (5-7 on 1-7); on lower-is-easier scales the value is
    the highest score still counted easy (1-2 on a 1-5 AES).
    """
    if metric == "nps":
        return None
    if metric == "csat":
        span = hi - lo + 1
        if span <= 2:
            return hi
        if span == 3:
            return lo + 1
        return hi - math.floor(span / 5)
    span = hi - lo + 1
    if higher_is_easier is False:
        return lo + max(1, round(span * 3 / 7)) - 1
    return hi - max(1, round(span * 3 / 7)) + 1


def with_defaults(data: dict) -> dict:
    """Fill every omitted field from the metric's and the service's defaults."""
    out = copy.deepcopy(COMMON_DEFAULTS)
    out.update({k: v for k, v in data.items()})
    metric, lo, hi = out["metric"], out["scale"]["min"], out["scale"]["max"]
    out.setdefault("name", out["key"])
    out.setdefault("respondent", "agent" if metric == "aes" else "customer")
    if out.get("higher_is_easier") is None and metric in ("ces", "aes"):
        out["higher_is_easier"] = metric == "ces"
    if metric in ("csat", "nps"):
        out["higher_is_easier"] = None
    if out.get("positive_min") is None:
        out["positive_min"] = default_positive_min(metric, lo, hi, out.get("higher_is_easier"))
    return out


def to_dict(survey: Survey) -> dict:
    """The survey as the API shows it."""
    return {
        "key": survey.key, "name": survey.name, "metric": survey.metric, "scale": survey.scale,
        "positive_min": survey.positive_min, "higher_is_easier": survey.higher_is_easier,
        "texts": survey.texts, "interaction_types": survey.interaction_types,
        "channels": survey.channels, "delay_seconds": survey.delay_seconds,
        "expires_after_seconds": survey.expires_after_seconds, "reminder": survey.reminder,
        "sample_rate": survey.sample_rate, "throttle_days": survey.throttle_days,
        "quiet_hours": survey.quiet_hours, "timezone": survey.timezone,
        "anonymity": survey.anonymity, "incentive": survey.incentive,
        "respondent": survey.respondent, "tasks": survey.tasks, "active": survey.active,
        "created_at": survey.created_at, "updated_at": survey.updated_at,
    }


def _apply(survey: Survey, data: dict) -> None:
    for name, value in data.items():
        if name == "scale":
            survey.scale_min, survey.scale_max = value["min"], value["max"]
        elif name not in ("created_at", "updated_at"):
            setattr(survey, name, value)


def get_survey(key: str) -> Survey | None:
    return db.session.scalar(select(Survey).where(Survey.key == key))


def list_surveys() -> list[Survey]:
    return list(db.session.scalars(select(Survey).order_by(Survey.id)))


def create_survey(data: dict) -> Survey:
    """Create a validated survey; raises SurveyExists on a duplicate key."""
    if get_survey(data["key"]) is not None:
        raise SurveyExists(data["key"])
    full = with_defaults(data)
    errors = SurveySchema().validate(_as_input(full))
    if errors:
        raise ValidationError(errors)
    survey = Survey()
    _apply(survey, full)
    db.session.add(survey)
    db.session.flush()
    return survey


def patch_survey(survey: Survey, changes: dict) -> Survey:
    """Change only the named fields, then validate the whole result (422 if it no longer holds)."""
    current = to_dict(survey)
    merged = {**current, **changes}
    if "scale" in changes and "positive_min" not in changes:
        merged["positive_min"] = None
    if "metric" in changes and "higher_is_easier" not in changes:
        merged["higher_is_easier"] = None
    full = with_defaults({k: v for k, v in merged.items() if v is not None or k in changes})
    errors = SurveySchema().validate(_as_input(full))
    if errors:
        raise ValidationError(errors)
    _apply(survey, {k: v for k, v in full.items() if k != "key"})
    db.session.flush()
    return survey


def _as_input(full: dict) -> dict:
    return {k: v for k, v in full.items() if k not in ("created_at", "updated_at")}


# The four surveys of a fresh database (DESIGN.md section 7), kept as data.
SEEDS_FILE = Path(__file__).with_name("seeds.json")


def seed_default_surveys() -> int:
    """Create the four default surveys on a database that has none; returns how many were made."""
    if db.session.scalar(select(Survey.id).limit(1)) is not None:
        return 0
    seeds = json.loads(SEEDS_FILE.read_text(encoding="utf-8"))
    for seed in seeds:
        create_survey(seed)
    return len(seeds)
