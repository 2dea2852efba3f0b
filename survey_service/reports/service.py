"""Score rows: answers grouped by the caller's keys and time buckets, each judged by its survey's rule."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, and_, case, column, func, literal, select, union_all, values

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.reports import rollups
from survey_service.reports.models import SLOTS, ScoreRollup
from survey_service.reports.scoring import Rule, counts_up, is_positive_sql, summarize
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
    "task": Response.task,
}
GROUP_KEYS = (*GROUP_COLUMNS, "survey")
# The rollup column of each group key (the survey is its survey_id).
ROLLUP_COLUMNS = {key: column.key for key, column in GROUP_COLUMNS.items()}
BUCKETS = ("hour", "day", "week", "month")
ATTRIBUTE_PREFIX = "attributes."
MAX_ATTRIBUTE_KEY = len(ATTRIBUTE_PREFIX) + 64
_DAY = timedelta(days=1)


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
        rules[sid] = (key, Rule(metric, positive_min, higher, lo, hi))
    return rules


def _sort_key(group_values: tuple, bucket: datetime | None, day_only: bool) -> tuple:
    """Group values in order with missing ones last, then time, a day's anonymous row after its hours."""
    return (*((v is None, v or "") for v in group_values), bucket or datetime.min.replace(tzinfo=UTC),
            day_only)


def attribute_name(key: str) -> str | None:
    """The interaction attribute a group key names (`attributes.campaign`), else None."""
    return key[len(ATTRIBUTE_PREFIX):] if key.startswith(ATTRIBUTE_PREFIX) else None


def grouping(group_by, bucket: str | None, keys: tuple[str, ...], *, attributes: bool = False) -> list[str]:
    """The asked group keys, each once and in order; ValueError naming an unknown key or bucket."""
    group_by = list(dict.fromkeys(group_by))
    unknown = [k for k in group_by
               if k not in keys and not (attributes and attribute_name(k) and len(k) <= MAX_ATTRIBUTE_KEY)]
    if unknown:
        raise ValueError(f"unknown group key(s): {', '.join(unknown)}")
    if bucket is not None and bucket not in BUCKETS:
        raise ValueError(f"unknown bucket: {bucket}")
    return group_by


class _Query(NamedTuple):
    """What one score query asks, as the parts of its statement read it."""

    metric: str
    survey_id: int | None
    group_by: list[str]
    bucket: str | None
    tz: str


def _label(query: _Query, key: str) -> str:
    """The SQL name of a group column: its place, since an attribute's name is no SQL identifier."""
    return f"g{query.group_by.index(key)}"


def _bucket(query: _Query, moment, day_only):
    """SQL: the bucket start of a placed time; a day-only (anonymous) one takes its day in hour buckets."""
    unit = literal(query.bucket)
    if query.bucket == "hour":
        unit = case((day_only, literal("day")), else_=unit)
    return func.date_trunc(unit, moment, literal(query.tz))


def _in(moment, start, end) -> list:
    return [c for c in (moment >= start if start is not None else None,
                        moment < end if end is not None else None) if c is not None]


def _near(column, start, end) -> list:
    """A range on the stored column that holds every placed time in [start, end) (an index can read it)."""
    return _in(column, start - _DAY if start is not None else None, end + _DAY if end is not None else None)


def _raw_part(query: _Query, start, end, *where):
    """Answers read one by one: those placed in [start, end) and matching `where`, each counted once."""
    placed = rollups.effective_time(Response.answered_at, Response.anonymous, query.tz)
    columns = []
    source = Response.__table__
    for key in query.group_by:
        name = attribute_name(key)
        if name is not None:
            columns.append(Interaction.attributes[name].as_string().label(_label(query, key)))
            continue
        if key != "survey":
            columns.append(GROUP_COLUMNS[key].label(_label(query, key)))
    if any(attribute_name(k) for k in query.group_by):
        source = source.outerjoin(Interaction.__table__, Interaction.id == Response.interaction_id)
    columns += [Response.survey_id.label("survey_id"), Response.score.label("score")]
    if query.bucket is not None:
        columns.append(_bucket(query, placed, Response.anonymous).label("bucket"))
        columns.append(Response.anonymous.label("day_only"))
    conditions = [Response.metric == query.metric, *_near(Response.answered_at, start, end),
                  *_in(placed, start, end), *where]
    if query.survey_id is not None:
        conditions.append(Response.survey_id == query.survey_id)
    return select(*columns, literal(1).label("n")).select_from(source).where(and_(*conditions))


def _rollup_part(query: _Query, grain: str, start, end):
    """Rollup rows of `grain` placed in [start, end), with their counts."""
    day_only = ScoreRollup.day_only
    placed = ScoreRollup.period
    if grain == SLOTS:
        placed = case((day_only, rollups.kept_day_start(ScoreRollup.period, query.tz)), else_=placed)
    columns = [getattr(ScoreRollup, ROLLUP_COLUMNS[k]).label(_label(query, k))
               for k in query.group_by if k != "survey"]
    columns += [ScoreRollup.survey_id.label("survey_id"), ScoreRollup.score.label("score")]
    if query.bucket is not None:
        columns.append(_bucket(query, placed, day_only).label("bucket"))
        columns.append(day_only.label("day_only"))
    cube = rollups.cube_for({ROLLUP_COLUMNS[k] for k in query.group_by if k != "survey"})
    conditions = [ScoreRollup.grain == grain, ScoreRollup.cube == cube, ScoreRollup.metric == query.metric,
                  *_in(placed, start, end)]
    if grain == SLOTS:
        conditions += _near(ScoreRollup.period, start, end)
    if query.survey_id is not None:
        conditions.append(ScoreRollup.survey_id == query.survey_id)
    return select(*columns, ScoreRollup.n.label("n")).where(and_(*conditions))


def _grain(query: _Query, start, end) -> str | None:
    """The rollup grain that can answer the query, or None when only the raw answers can.

    A report zone's days serve day, week and month buckets (and none) in that zone; 15-minute slots
    serve hours and other zones. Attributes are not rolled up: those queries read the answers.
    """
    if any(attribute_name(k) for k in query.group_by):
        return None
    if query.tz in rollups.report_zones() and query.bucket != "hour":
        return query.tz
    if rollups.quarter_hour_zone(ZoneInfo(query.tz), start, end):
        return SLOTS
    return None


def _parts(query: _Query, start, end, use_rollups: bool) -> list:
    """The statement's parts: rollup rows for the whole periods, raw answers for the rest.

    With a grain: the rows it counted for the periods wholly inside [start, end); the answers it has
    not counted yet (after its mark, or held back by a reason step) in those periods; and every
    answer in the partial periods at the ends. Each answer is in exactly one part.
    """
    grain = _grain(query, start, end) if use_rollups else None
    if grain is not None:
        first, last = (rollups.slot_bounds(start, end) if grain == SLOTS
                       else rollups.day_bounds(start, end, grain))
        if first is not None and last is not None and first >= last:
            grain = None
    if grain is None:
        return [_raw_part(query, start, end)]
    mark = rollups.mark_of(grain)
    parts = [_rollup_part(query, grain, first, last),
             _raw_part(query, first, last, rollups.after_mark(mark)),
             _raw_part(query, first, last, ~rollups.after_mark(mark), rollups.held_back())]
    if start is not None and first > start:
        parts.append(_raw_part(query, start, first))
    if end is not None and last < end:
        parts.append(_raw_part(query, last, end))
    return parts


def score_counts(metric: str, start: datetime | None = None, end: datetime | None = None,
                 group_by=(), bucket: str | None = None, tz: str = "UTC", survey_id: int | None = None,
                 use_rollups: bool = True):
    """SQL: answers counted by group values, survey, score and bucket: the rollups plus the raw rest."""
    query = _Query(metric, survey_id, list(group_by), bucket, tz)
    union = union_all(*_parts(query, start, end, use_rollups)).subquery("u")
    keys = [union.c[_label(query, k)] for k in query.group_by if k != "survey"]
    keys += [union.c.survey_id, union.c.score]
    if bucket is not None:
        keys += [union.c.bucket, union.c.day_only if bucket == "hour" else literal(False).label("day_only")]
    return select(func.sum(union.c.n).label("count"), *keys).group_by(*keys)


def _score_rows(counts, group_by: list[str], bucket: str | None, rules: dict):
    """SQL: one row per group and bucket: its distribution, how many were positive, its scale's ends.

    Each survey's answers are judged by its own rule (scoring.is_positive_sql over the rules given as
    VALUES), so the database hands over one row per score row instead of one per survey and score.
    """
    judged = values(column("survey_id", Integer), column("positive_min", Integer), column("up", Boolean),
                    column("lo", Integer), column("hi", Integer), name="rules").data(
        [(sid, rule.positive_min, counts_up(rule), rule.scale_min, rule.scale_max)
         for sid, (_, rule) in rules.items()])
    c = counts.subquery("c")
    row_keys = [c.c[f"g{i}"] for i, k in enumerate(group_by) if k != "survey"]
    if "survey" in group_by:
        row_keys.append(c.c.survey_id)
    if bucket is not None:
        row_keys += [c.c.bucket, c.c.day_only]
    positive = is_positive_sql(c.c.score, judged.c.positive_min, judged.c.up)
    per_score = (select(*row_keys, c.c.score, func.sum(c.c.count).label("n"),
                        func.coalesce(func.sum(c.c.count).filter(positive), 0).label("pos"),
                        func.min(judged.c.lo).label("lo"), func.max(judged.c.hi).label("hi"))
                 .join_from(c, judged, judged.c.survey_id == c.c.survey_id)
                 .group_by(*row_keys, c.c.score).subquery("s"))
    keys = [per_score.c[k.name] for k in row_keys]
    return select(*keys, func.json_object_agg(per_score.c.score, per_score.c.n).label("distribution"),
                  func.sum(per_score.c.pos).label("positive"), func.min(per_score.c.lo).label("lo"),
                  func.max(per_score.c.hi).label("hi")).group_by(*keys)


def scores(metric: str, start: datetime | None = None, end: datetime | None = None,
           group_by: list[str] | tuple[str, ...] = (), bucket: str | None = None, tz: str = "UTC",
           survey_key: str | None = None, *, use_rollups: bool = True) -> list[dict]:
    """Score rows for `metric` over answers placed in [start, end), grouped by `group_by` and `bucket`.

    Rows are sorted by group values, then bucket; a row's answers may come from several surveys, each
    judged positive or easy by its own survey's threshold. An anonymous answer keeps only its day: it
    is placed at that day's start in `tz`, and in hour buckets it is counted in a row of its own for
    the day (`day_only: true`), not in the midnight hour. `use_rollups=False` reads every answer.
    """
    group_by = grouping(group_by, bucket, GROUP_KEYS, attributes=True)
    zone = ZoneInfo(tz)
    rules = _survey_rules()
    survey_id = None
    if survey_key is not None:
        survey_id = next((sid for sid, (key, _) in rules.items() if key == survey_key), None)
        if survey_id is None:
            raise UnknownSurvey(survey_key)
        if rules[survey_id][1].metric != metric:
            raise SurveyMetricMismatch(
                f"Survey '{survey_key}' measures {rules[survey_id][1].metric}, not {metric}.")
    if not rules:
        return []
    stmt = _score_rows(score_counts(metric, start, end, group_by, bucket, tz, survey_id, use_rollups),
                       group_by, bucket, rules)

    found = []
    for row in db.session.execute(stmt).mappings():
        if row["distribution"] is None:  # no answers: without groups, an aggregate still gives a row
            continue
        group_values = tuple(rules[row["survey_id"]][0] if k == "survey" else row[f"g{i}"]
                             for i, k in enumerate(group_by))
        when = row["bucket"] if bucket is not None else None
        day_only = bool(row["day_only"]) if bucket is not None else False
        distribution = {int(score): int(n) for score, n in row["distribution"].items()}
        scale = (row["lo"], row["hi"]) if row["lo"] is not None and row["hi"] is not None else None
        found.append(((group_values, when, day_only),
                      summarize(metric, distribution, int(row["positive"]), scale)))

    rows = []
    for (group_values, when, day_only), summary in sorted(found, key=lambda f: _sort_key(*f[0])):
        row: dict = {}
        for key, value in zip(group_by, group_values, strict=True):
            name = attribute_name(key)
            if name is None:
                row[key] = value
            else:
                row.setdefault("attributes", {})[name] = value
        if when is not None:
            row["bucket"] = when.astimezone(zone).isoformat()
            if bucket == "hour":
                row["day_only"] = day_only
        row.update(summary)
        rows.append(row)
    return rows
