"""Score rollups: answers counted once, in the feed's order, into 15-minute slots and local days.

Each grain (SLOTS, or a zone of SURVEY_REPORT_TIMEZONES) keeps a mark in the feed's (transaction id,
id) order and counts the rows after it that the feed would serve: below the snapshot horizon, so a
row that commits late has a transaction id above the mark and is counted on a later run, and without
an open SMS or voice reason step (the answer may still turn anonymous, which changes its time; when
the step closes the row is restamped past every mark). A report adds the rows not counted yet
(after the mark, or held back), read raw, so its figures are exact whenever it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    Date,
    DateTime,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert

from survey_service.answers.models import Response, Xid8
from survey_service.extensions import db
from survey_service.reports import feed
from survey_service.reports.models import CUBES, DIMENSIONS, KEY, SLOT_MINUTES, SLOTS, RollupMark, ScoreRollup

SLOT = timedelta(minutes=SLOT_MINUTES)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NO_MARK = ("0", "")
# What a rollup row is made of, and the feed order: not the reason or links, which it never reads.
_PICKED = ("id", "feed_txid", "metric", "answered_at", "anonymous", "survey_id", "agent_id", "team", "queue",
           "channel", "answer_channel", "interaction_type", "task", "score")


def report_zones() -> tuple[str, ...]:
    """The zones whose local days are counted (SURVEY_REPORT_TIMEZONES, a comma list of IANA names)."""
    raw = current_app.config["REPORT_TIMEZONES"]
    return tuple(dict.fromkeys(z.strip() for z in raw.split(",") if z.strip()))


def grains() -> tuple[str, ...]:
    """Every grain the rollups keep: the slots, then each report zone's days."""
    return (SLOTS, *report_zones())


def kept_day_start(moment, zone: str):
    """SQL: the start, on `zone`'s clocks, of the UTC day that an anonymous answer keeps (DESIGN 5)."""
    day = cast(func.timezone(literal("UTC"), moment), Date)
    return func.timezone(literal(zone), cast(day, DateTime()))


def effective_time(answered_at, anonymous, zone: str):
    """SQL: when a report in `zone` places an answer: its moment, or for an anonymous one its day's start.

    An anonymous answer keeps only its (UTC) date; placing it at that date's midnight in the report's
    zone keeps it on its own day there, where its UTC midnight would fall on the day before in the
    Americas.
    """
    return case((anonymous, kept_day_start(answered_at, zone)), else_=answered_at)


def _period(grain: str, answered_at, anonymous):
    """SQL: the period of `grain` an answer is counted in."""
    if grain == SLOTS:
        slot = func.date_bin(literal_column(f"interval '{SLOT_MINUTES} minutes'"), answered_at,
                             literal(_EPOCH))
        return case((anonymous, answered_at), else_=slot)
    return func.date_trunc(literal("day"), effective_time(answered_at, anonymous, grain), literal(grain))


held_back = feed.held_back  # the feed's own rules: counted is what the feed would serve
after_mark = feed.after


def mark_of(grain: str) -> tuple[str, str]:
    """(transaction id, response id) the grain has counted up to; the start when it never ran."""
    row = db.session.execute(select(RollupMark.txid, RollupMark.response_id)
                             .where(RollupMark.grain == grain)).first()
    return (str(row.txid), row.response_id) if row else _NO_MARK


def roll_up(grain: str, batch: int) -> int:
    """Count the next `batch` answers the grain has not counted and move its mark past them.

    One transaction: lock the mark (a second runner waits, then reads the moved mark), pick the rows
    after it in feed order below the horizon and outside a reason step, add their counts to the
    rollup rows of every cube (one upsert each, in the same statement, so every cube counts the
    same rows), store the last row as the mark. Returns how many answers were counted.
    """
    db.session.execute(insert(RollupMark).values(grain=grain, txid=cast(literal("0"), Xid8()),
                                                 response_id="").on_conflict_do_nothing())
    mark = db.session.execute(select(RollupMark.txid, RollupMark.response_id)
                              .where(RollupMark.grain == grain).with_for_update()).one()
    picked = (select(*(getattr(Response, name) for name in _PICKED))
              .where(and_(after_mark((str(mark.txid), mark.response_id)), Response.feed_txid < feed.horizon(),
                          ~held_back()))
              .order_by(Response.feed_txid, Response.id).limit(batch).cte("picked"))
    period = _period(grain, picked.c.answered_at, picked.c.anonymous)
    counted = [_count_into(cube, columns, grain, picked, period) for cube, columns in CUBES.items()]
    last = db.session.execute(
        select(cast(picked.c.feed_txid, String).label("txid"), picked.c.id,
               select(func.count()).select_from(picked).scalar_subquery().label("rows"),
               *(select(func.count()).select_from(c).scalar_subquery() for c in counted))
        .order_by(picked.c.feed_txid.desc(), picked.c.id.desc()).limit(1)).first()
    if last is None:
        db.session.rollback()
        return 0
    db.session.execute(RollupMark.__table__.update().where(RollupMark.grain == grain)
                       .values(txid=cast(literal(last.txid), Xid8()), response_id=last.id))
    db.session.commit()
    return last.rows


def _count_into(cube: str, columns: tuple[str, ...], grain: str, picked, period):
    """An upsert CTE adding the picked answers' counts to the cube's rows (its other columns NULL)."""
    keys = {"grain": literal(grain), "cube": literal(cube), "metric": picked.c.metric, "period": period,
            "day_only": picked.c.anonymous, "survey_id": picked.c.survey_id,
            **{name: picked.c[name] if name in columns else null() for name in DIMENSIONS},
            "score": picked.c.score}
    assert tuple(keys) == KEY
    kept = [value for name, value in keys.items() if name not in DIMENSIONS or name in columns]
    grouped = select(*keys.values(), func.count()).group_by(*kept)
    upsert = insert(ScoreRollup).from_select([*KEY, "n"], grouped)
    upsert = upsert.on_conflict_do_update(index_elements=list(KEY),
                                          set_={"n": ScoreRollup.n + upsert.excluded.n})
    return upsert.returning(literal(1)).cte(f"counted_{cube}")


def cube_for(columns: set[str]) -> str:
    """The smallest cube that keeps every one of these group columns."""
    return next(cube for cube, kept in CUBES.items() if columns <= set(kept))


def pending(grain: str) -> int:
    """How many answers the grain has not counted yet (read by the feed index)."""
    return db.session.scalar(select(func.count()).select_from(Response).where(after_mark(mark_of(grain))))


def roll_up_all(batch: int | None = None, max_batches: int = 100) -> dict[str, int]:
    """Bring every grain up to date (at most `max_batches` statements each); counts by grain."""
    batch = batch or current_app.config["ROLLUP_BATCH"]
    done = {}
    for grain in grains():
        total = 0
        for _ in range(max_batches):
            counted = roll_up(grain, batch)
            total += counted
            if counted < batch:
                break
        done[grain] = total
    return done


def rebuild() -> None:
    """Forget every rollup and mark; the next runs count every answer again (after changing zones)."""
    db.session.execute(text("TRUNCATE score_rollups, rollup_marks"))
    db.session.commit()


def day_bounds(start: datetime | None, end: datetime | None, zone: str) -> tuple:
    """The first local-day start at or after `start` and the last at or before `end`, in `zone`.

    Computed by PostgreSQL with the same date_trunc the rollup rows were keyed by, so the days agree
    on every DST change. None stays None (an open end).
    """
    def ceil(moment):
        day = func.date_trunc(literal("day"), literal(moment), literal(zone))
        local_next = func.date_trunc(literal("day"), func.timezone(literal(zone), literal(moment))) \
            + literal_column("interval '1 day'")
        return case((day == literal(moment), day), else_=func.timezone(literal(zone), local_next))

    def floor(moment):
        return func.date_trunc(literal("day"), literal(moment), literal(zone))

    row = db.session.execute(select(
        ceil(start) if start is not None else literal(None, DateTime(timezone=True)),
        floor(end) if end is not None else literal(None, DateTime(timezone=True)))).one()
    return tuple(row)


def slot_bounds(start: datetime | None, end: datetime | None) -> tuple:
    """The first slot start at or after `start` and the last at or before `end`."""
    def floor(moment: datetime) -> datetime:
        return moment - (moment - _EPOCH) % SLOT
    first = None if start is None else (start if floor(start) == start else floor(start) + SLOT)
    last = None if end is None else floor(end)
    return first, last


def quarter_hour_zone(zone: ZoneInfo, start: datetime | None, end: datetime | None) -> bool:
    """Whether `zone`'s offset is a whole number of slots at the ends of the range and now.

    Every zone in use today is; slots cannot place local hours of an old offset such as +05:53.
    """
    moments = [m for m in (start, end) if m is not None] or [datetime.now(UTC)]
    return all(m.astimezone(zone).utcoffset() % SLOT == timedelta(0) for m in moments)
