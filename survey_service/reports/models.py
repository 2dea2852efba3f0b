"""Score rollups: answers counted by every score group key, per 15-minute slot and per local day."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from survey_service.answers.models import Xid8
from survey_service.db import Base

SLOTS = ""  # the grain of 15-minute UTC slots; any other grain is the IANA zone whose days it counts
SLOT_MINUTES = 15
# Key columns of a rollup row, in the order of its unique index.
DIMENSIONS = ("agent_id", "team", "queue", "channel", "answer_channel", "interaction_type", "task")
# Each cube keeps some group columns (the others NULL): a query reads the smallest that has its groups.
# Answers spread over every column at once barely share a row, so one cube of all of them is about as
# large as the answers; the small ones are what make a 30-day agent x day query cheap.
CUBES = {
    "total": (),
    "agent": ("agent_id", "team"),
    "queue": ("queue",),
    "channel": ("channel", "answer_channel"),
    "type": ("interaction_type",),
    "task": ("task",),
    "all": DIMENSIONS,
}
# Key columns of a rollup row, in the order of its unique index.
KEY = ("grain", "cube", "metric", "period", "day_only", "survey_id", *DIMENSIONS, "score")


class ScoreRollup(Base):
    """How many answers share one score and the cube's group columns in one period of one grain.

    `period` is the slot's start (grain SLOTS) or the local day's start in the grain's zone. An
    anonymous answer, dated only to its UTC day (DESIGN 5), is a `day_only` row at that day's start.
    """

    __tablename__ = "score_rollups"
    __table_args__ = (Index("uq_score_rollups_key", *KEY, unique=True, postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grain: Mapped[str] = mapped_column(String(64))
    cube: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(8))
    period: Mapped[datetime]
    day_only: Mapped[bool]
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    team: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(16))
    answer_channel: Mapped[str | None] = mapped_column(String(16))
    interaction_type: Mapped[str | None] = mapped_column(String(16))
    task: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int]
    n: Mapped[int] = mapped_column(BigInteger)


class RollupMark(Base):
    """How far a grain has counted, in the feed's (transaction id, id) order."""

    __tablename__ = "rollup_marks"

    grain: Mapped[str] = mapped_column(String(64), primary_key=True)
    txid: Mapped[str] = mapped_column(Xid8())
    response_id: Mapped[str] = mapped_column(String(32))
