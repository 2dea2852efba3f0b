"""The responses feed: pages in (transaction id, id) order below the snapshot horizon, and streamed rows.

A page holds only rows whose inserting transaction is older than every transaction still running
(`pg_snapshot_xmin`), so no row can later commit below a cursor already served: a row committed out
of order has a transaction id at or above the horizon of the earlier read and comes in a later page.
Answers whose SMS or voice reason step is still open (they may still become anonymous or get a
reason) are held back until it closes; closing restamps the row's transaction id (migration 0010).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import String, and_, any_, cast, func, literal, select, text, tuple_

from survey_service.answers.models import Conversation, Response, Xid8
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.surveys.models import Survey

COLUMNS = ("id", "survey", "metric", "score", "reason", "anonymous", "channel", "answer_channel", "source",
           "answered_at", "agent", "team", "queue", "interaction_type", "task", "locale", "customer_id",
           "interaction.source", "interaction.external_id")
FILTERS = {"metric": Response.metric, "channel": Response.channel,
           "answer_channel": Response.answer_channel, "agent": Response.agent_id,
           "team": Response.team, "queue": Response.queue}
_RESPONSE_COLUMNS = ("id", "metric", "score", "reason", "anonymous", "channel", "answer_channel",
                     "answered_at", "agent_id", "team", "queue", "interaction_type", "task", "locale",
                     "customer_id")
_CURSOR = re.compile(r"^(\d{1,20}):([0-9A-Za-z_-]{1,32})$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class UnknownSurvey(LookupError):
    """No survey has this key."""


def encode_cursor(txid: str, response_id: str) -> str:
    """The opaque cursor after a row: base64url of "<txid>:<id>"."""
    return base64.urlsafe_b64encode(f"{txid}:{response_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(txid, id) of a cursor this feed made; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("Not a cursor this feed gave out.") from None
    match = _CURSOR.match(raw)
    if not match or int(match.group(1)) >= 2**64:
        raise ValueError("Not a cursor this feed gave out.")
    return match.group(1), match.group(2)


def held_back():
    """SQL: the answer's SMS or voice reason step is open (its conversation still links to it).

    `id = ANY(ARRAY(...))`: the few open steps are read once, and the answers found by primary key,
    never by reading the answers table to match them.
    """
    linked = select(Conversation.response_id).where(Conversation.response_id.isnot(None))
    return Response.id == any_(func.array(linked.scalar_subquery()))


def horizon():
    """SQL: the oldest transaction still running; every row below it has committed or never will."""
    return func.pg_snapshot_xmin(func.pg_current_snapshot())


def after(cursor: tuple[str, str]):
    """SQL: the answer comes after (transaction id, id) in feed order."""
    return tuple_(Response.feed_txid, Response.id) > tuple_(cast(literal(cursor[0]), Xid8()),
                                                            literal(cursor[1]))


def _statement(start: datetime | None = None, end: datetime | None = None, survey_key: str | None = None,
               **filters):
    """The feed's rows in (txid, id) order, without the reason-step rows, under the given filters."""
    txid = cast(Response.feed_txid, String).label("txid")
    stmt = (select(*(getattr(Response, name) for name in _RESPONSE_COLUMNS), Survey.key.label("survey_key"),
                   Response.source.label("answer_source"),  # `source` names the interaction's
                   Interaction.source, Interaction.external_id, txid)
            .join(Survey, Survey.id == Response.survey_id)
            .outerjoin(Interaction, and_(Interaction.id == Response.interaction_id,
                                         Response.anonymous.is_(False)))
            .where(~held_back())
            .order_by(Response.feed_txid, Response.id))
    if survey_key is not None:
        survey_id = db.session.execute(select(Survey.id).where(Survey.key == survey_key)).scalar()
        if survey_id is None:
            raise UnknownSurvey(survey_key)
        stmt = stmt.where(Response.survey_id == survey_id)
    if start is not None:
        stmt = stmt.where(Response.answered_at >= start)
    if end is not None:
        stmt = stmt.where(Response.answered_at < end)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(FILTERS[name] == value)
    return stmt


def _row(row) -> dict:
    """A feed row as the JSON names it; an anonymous one without customer or interaction, dated only."""
    out = {"id": row.id, "survey": row.survey_key, "metric": row.metric, "score": row.score,
           "reason": row.reason, "anonymous": row.anonymous, "channel": row.channel,
           "answer_channel": row.answer_channel, "source": row.answer_source,
           "answered_at": (row.answered_at.date().isoformat() if row.anonymous
                           else row.answered_at.isoformat()),
           "agent": row.agent_id, "team": row.team, "queue": row.queue,
           "interaction_type": row.interaction_type, "task": row.task, "locale": row.locale}
    if not row.anonymous:
        out["customer_id"] = row.customer_id
        if row.source is not None:
            out["interaction"] = {"source": row.source, "external_id": row.external_id}
    return out


def page(limit: int = 100, cursor: tuple[str, str] | None = None, **filters) -> dict:
    """One page of at most `limit` rows after the cursor, with the next cursor (None on the last page).

    Parallel workers are off for the page: PostgreSQL plans a parallel scan when it expects many rows
    past the cursor, and starting the workers took longer than reading the 1,001 rows from the index.
    """
    stmt = _statement(**filters).where(Response.feed_txid < horizon())
    if cursor is not None:
        stmt = stmt.where(after(cursor))
    db.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    rows = db.session.execute(stmt.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].txid, rows[-1].id) if more else None
    return {"items": [_row(r) for r in rows], "next_cursor": next_cursor}


def stream(**filters) -> Iterator[dict]:
    """Every matching row, read through a server-side cursor so memory stays flat.

    The filters are checked now (UnknownSurvey), the rows read as the answer is sent.
    """
    return _streamed(_statement(**filters))


def _streamed(stmt) -> Iterator[dict]:
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
        for row in result:
            yield _row(row)


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula, made text by a leading apostrophe."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def cells(row: dict) -> list[str]:
    """A row's CSV cells in COLUMNS order; absent and null values are empty."""
    interaction = row.get("interaction") or {}
    values = {**row, "interaction.source": interaction.get("source"),
              "interaction.external_id": interaction.get("external_id")}
    cells = []
    for name in COLUMNS:
        value = values.get(name)
        if value is None:
            cells.append("")
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        else:
            cells.append(neutralise(str(value)))
    return cells


def csv_lines(rows: Iterator[dict]) -> Iterator[str]:
    """The CSV text of the rows, the header first, one chunk per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(cells(row))
        yield from _drain(buffer)
    yield from _drain(buffer)


def _drain(buffer: io.StringIO) -> Iterator[str]:
    text = buffer.getvalue()
    if text:
        buffer.seek(0)
        buffer.truncate()
        yield text


def ndjson_lines(rows: Iterator[dict]) -> Iterator[str]:
    """One JSON object per line."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"
