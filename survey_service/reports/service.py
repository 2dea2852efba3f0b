"""Score rows: answers grouped by the caller's keys and time buckets, each judged by its survey's rule."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.reports.scoring import Rule, Tally
from survey_service.surveys.models import Survey
from survey_service.surveys.service import default_positive_min

# The survey group is read from survey_id and shown by key, so it is not a column here.
GROUP_COLUMNS = {
    "agent": Response.agent_id,
    "team": Response.team,
    "queue": Response.queue,
    "channel": Response.channel,
    "answer_channel": Response.answer_channel,
    "interaction_type": Response.interaction_type,
}
GROUP_KEYS = (*GROUP_COLUMNS, "survey")
BUCKETS = ("hour", "day", "week", "month")


class UnknownSurvey(LookupError):
    """No survey has this key."""


class SurveyMetricMismatch(ValueError):
    """The survey named in the filter measures another metric than the one asked for."""


def bucket_start(at: datetime, bucket: str, zone: ZoneInfo) -> datetime:
    """Start of the hour, day, ISO week (Monday) or month holding `at`, on the clocks of `zone`, in UTC.

    Keyed in UTC because aware datetimes sharing one tzinfo compare by wall time, which would merge the
    two repeated hours of a DST fall-back.
    """
    local = at.astimezone(zone)
    if bucket == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        day = local.date()
        if bucket == "week":
            day -= timedelta(days=day.weekday())
        elif bucket == "month":
            day = day.replace(day=1)
        # fold=0 picks the earlier midnight; a midnight skipped by DST maps to the gap's start.
        start = datetime.combine(day, time(), tzinfo=zone)
    return start.astimezone(UTC)


def _survey_rules() -> dict[int, tuple[str, Rule]]:
    """Every survey's key and scoring rule, by id (the surveys table is small)."""
    rows = db.session.execute(select(Survey.id, Survey.key, Survey.metric, Survey.scale_min, Survey.scale_max,
                                     Survey.positive_min, Survey.higher_is_easier))
    rules = {}
    for sid, key, metric, lo, hi, positive_min, higher in rows:
        if metric in ("ces", "aes") and higher is None:
            higher = metric == "ces"
        if positive_min is None:
            positive_min = default_positive_min(metric, lo, hi, higher)
        rules[sid] = (key, Rule(metric, positive_min, higher))
    return rules


def _sort_key(group_values: tuple, bucket: datetime | None) -> tuple:
    """Group values in order with missing ones last, then time."""
    return (*((v is None, v or "") for v in group_values), bucket or datetime.min.replace(tzinfo=UTC))


def grouping(group_by, bucket: str | None, keys: tuple[str, ...]) -> list[str]:
    """The asked group keys, each once and in order; ValueError naming an unknown key or bucket."""
    group_by = list(dict.fromkeys(group_by))
    unknown = [k for k in group_by if k not in keys]
    if unknown:
        raise ValueError(f"unknown group key(s): {', '.join(unknown)}")
    if bucket is not None and bucket not in BUCKETS:
        raise ValueError(f"unknown bucket: {bucket}")
    return group_by


def scores(metric: str, start: datetime | None = None, end: datetime | None = None,
           group_by: list[str] | tuple[str, ...] = (), bucket: str | None = None, tz: str = "UTC",
           survey_key: str | None = None) -> list[dict]:
    """Score rows for `metric` over answers in [start, end), grouped by `group_by` and time `bucket`.

    Rows are sorted by group values, then bucket; a row's answers may come from several surveys, each
    judged positive or easy by its own survey's threshold.
    """
    group_by = grouping(group_by, bucket, GROUP_KEYS)
    zone = ZoneInfo(tz)
    rules = _survey_rules()

    conditions = [Response.metric == metric]
    if survey_key is not None:
        survey_id = next((sid for sid, (key, _) in rules.items() if key == survey_key), None)
        if survey_id is None:
            raise UnknownSurvey(survey_key)
        if rules[survey_id][1].metric != metric:
            raise SurveyMetricMismatch(
                f"Survey '{survey_key}' measures {rules[survey_id][1].metric}, not {metric}.")
        conditions.append(Response.survey_id == survey_id)
    if start is not None:
        conditions.append(Response.answered_at >= start)
    if end is not None:
        conditions.append(Response.answered_at < end)

    columns = [GROUP_COLUMNS[k].label(k) for k in group_by if k != "survey"]
    columns += [Response.survey_id.label("survey_id"), Response.score.label("score")]
    if bucket is not None:
        columns.append(Response.answered_at.label("answered_at"))
    # Counting equal rows in the database keeps the stream short (anonymous answers share their day).
    stmt = (select(func.count().label("count"), *columns).where(and_(*conditions)).group_by(*columns)
            .execution_options(yield_per=5000))

    tallies: dict[tuple, Tally] = defaultdict(Tally)
    for row in db.session.execute(stmt).mappings():
        key_of_survey, rule = rules[row["survey_id"]]
        group_values = tuple(key_of_survey if k == "survey" else row[k] for k in group_by)
        when = bucket_start(row["answered_at"], bucket, zone) if bucket is not None else None
        tallies[(group_values, when)].add(row["score"], rule, row["count"])

    rows = []
    for group_values, when in sorted(tallies, key=lambda k: _sort_key(*k)):
        row: dict = dict(zip(group_by, group_values, strict=True))
        if when is not None:
            row["bucket"] = when.astimezone(zone).isoformat()
        row.update(tallies[(group_values, when)].summary(metric))
        rows.append(row)
    return rows
