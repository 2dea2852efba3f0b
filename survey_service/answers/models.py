"""Responses: one answer per invitation, stored unlinkable when the respondent chose anonymity."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import base as postgresql_types
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from survey_service.db import Base, utcnow


def new_response_id() -> str:
    """Random ids, so that an anonymous answer's id says nothing about when it came."""
    return uuid.uuid4().hex


def _same_channel(context) -> str:
    """An answer written without its way back came back on the channel it was asked on."""
    return context.get_current_parameters()["channel"]


class Xid8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (xid8), read and written as its decimal text."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "xid8"


# Reflection (the migrations-match-models check) then knows the type by name.
postgresql_types.ischema_names.setdefault("xid8", Xid8)

# Where an answer came from: a survey this service sent, or a file of past results (import).
RESPONSE_SOURCES = ("survey", "import")


class Response(Base):
    """One answer. Anonymous rows keep only what scoring needs, and their time only to the day."""

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_survey_answered", "survey_id", "answered_at"),
                      Index("ix_responses_feed", "feed_txid", "id"),
                      # An imported answer is stored once per survey, whatever number of re-runs.
                      Index("uq_responses_survey_id_import_key", "survey_id", "import_key", unique=True,
                            postgresql_where=text("import_key IS NOT NULL")),
                      CheckConstraint("source IN ('survey','import')", name="source_known"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_response_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    metric: Mapped[str] = mapped_column(String(8))
    score: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    anonymous: Mapped[bool] = mapped_column(default=False)
    # The channel the invitation went out on, and the way the answer came back (web for an email link).
    channel: Mapped[str] = mapped_column(String(16))
    answer_channel: Mapped[str] = mapped_column(String(16), default=_same_channel)
    interaction_type: Mapped[str | None] = mapped_column(String(16))
    # The task an agent's effort answer is about (a key of its survey's `tasks`, or a free label).
    task: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    team: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    locale: Mapped[str | None] = mapped_column(String(16))
    # Linking columns: all None on an anonymous answer.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    answered_at: Mapped[datetime]
    # The inserting transaction's id, the feed's order: rows below the oldest running one are final.
    feed_txid: Mapped[str] = mapped_column(Xid8(), server_default=text("pg_current_xact_id()"))
    # Live answers take the server default; `import` rows came from a file and have no invitation.
    source: Mapped[str] = mapped_column(String(8), server_default=text("'survey'"))
    # An imported answer's key: the other tool's id, else a hash of its values (reports.imports).
    import_key: Mapped[str | None] = mapped_column(String(128))


class InboundMessage(Base):
    """An inbound SMS already handled, by its MessageSid: Twilio's retries are recorded once."""

    __tablename__ = "inbound_messages"

    # Twilio's id is the key: one index to keep up on every inbound text, not a surrogate's too.
    message_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """The state of one invitation's SMS or voice exchange (score, then reason and anonymity).

    `response_id` is the only link from an invitation to an anonymous answer, so it is kept only
    while the reason step is open (`open_until`) and cleared when it closes.
    """

    __tablename__ = "conversations"
    # Only calls have a CallSid: SMS conversations stay out of its index.
    __table_args__ = (Index("ix_conversations_call_sid", "call_sid",
                            postgresql_where=text("call_sid IS NOT NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    call_sid: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="score")
    reprompts: Mapped[int] = mapped_column(default=0)
    wants_anonymous: Mapped[bool] = mapped_column(default=False)
    response_id: Mapped[str | None] = mapped_column(String(32))
    open_until: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
