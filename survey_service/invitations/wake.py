"""When the sweep must next look at an invitation (its wake time) and what it does then: pure rules.

The sweep finds its work through one indexed column, `wake_at`, not through `status`. So the
webhooks' high-volume updates (an answer, a delivery receipt) change no indexed column, and
PostgreSQL can rewrite the row in place (a HOT update) without touching any index. An answered
row keeps its wake time; the sweep clears it when the time comes, in a batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from survey_service.invitations.models import FINAL, Status

# A row left `queued` this long lost its broker message (Redis restarted): enqueue it again.
REQUEUE_AFTER = timedelta(minutes=2)


class Woken(NamedTuple):
    """The times of a row the sweep found due, as it reads them."""

    status: str
    due_at: datetime | None
    queued_at: datetime | None
    sending_at: datetime | None
    expires_at: datetime | None


def wake_time(status: str, *, due_at: datetime | None = None, queued_at: datetime | None = None,
              sending_at: datetime | None = None, expires_at: datetime | None = None,
              reconcile_after: timedelta | None = None, now: datetime) -> datetime | None:
    """When the sweep must next look at a row in this state; None when it never needs to.

    scheduled: when due; queued: when its broker message counts as lost; sending: when the
    provider is asked what became of it (`reconcile_after` is then required); sent or delivered:
    at expiry; final states: never.
    """
    if status in FINAL:
        return None
    if status == Status.SCHEDULED:
        return due_at or now
    if status == Status.QUEUED:
        return (queued_at or now) + REQUEUE_AFTER
    if status == Status.SENDING:
        if reconcile_after is None:
            raise ValueError("a row in `sending` wakes after the reconcile period: give it")
        return (sending_at or now) + reconcile_after
    return expires_at


def moved(status: str, *, now: datetime, reconcile_after: timedelta | None = None, **times) -> dict:
    """The values of an UPDATE that moves a row to `status` with `times`, its wake time included.

    Every state change that knows its new times in Python writes wake_at through here, so the
    rule of wake_time() is the only one. Two receipts are written in SQL instead, to keep the
    rows' wake time (and so their updates HOT): a sent row already wakes at its expiry
    (services.mark_sent, mark_delivered).
    """
    inputs = {name: times[name] for name in ("due_at", "queued_at", "sending_at", "expires_at")
              if name in times}
    return {"status": status, **times,
            "wake_at": wake_time(status, now=now, reconcile_after=reconcile_after, **inputs)}


def sweep_action(row: Woken, now: datetime, reconcile_after: timedelta) -> tuple[str, datetime | None]:
    """What the sweep does with a row whose wake time has come, and the row's next wake time.

    Actions: `expire`, `claim` (due), `requeue` (lost), `reconcile` (left to the provider lookup),
    or `sleep` (nothing to do yet, or ever: the next wake time is then None).
    """
    if row.status in FINAL:
        return "sleep", None
    if (row.status != Status.SENDING and row.expires_at is not None and row.expires_at <= now):
        return "expire", None
    if row.status == Status.SCHEDULED and (row.due_at is None or row.due_at <= now):
        return "claim", now + REQUEUE_AFTER
    if row.status == Status.QUEUED and (row.queued_at is None or row.queued_at + REQUEUE_AFTER <= now):
        return "requeue", now + REQUEUE_AFTER
    if row.status == Status.SENDING:
        return "reconcile", None
    return "sleep", wake_time(row.status, due_at=row.due_at, queued_at=row.queued_at,
                              sending_at=row.sending_at, expires_at=row.expires_at,
                              reconcile_after=reconcile_after, now=now)
