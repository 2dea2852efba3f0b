"""When the sweep must next look at an invitation (its wake time) and what it does then: pure rules.

The sweep finds its work through one indexed column, `wake_at`, not through `status`. So the
webhooks' high-volume updates (an answer, a delivery receipt) change no indexed column, and
PostgreSQL can rewrite the row in place (a HOT update) without touching any index. An answered
row keeps its wake time; the sweep clears it when the time comes, in a batch.

A sent or delivered row with a reminder to come wakes at the reminder's time (next_reminder);
the status never changes for a reminder, so the reminder's own progress lives in
`reminder_queued_at` (claimed by the sweep, not yet by a send task) and `reminded_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from survey_service.invitations.models import FINAL, Status
from survey_service.invitations.policy import apply_quiet_hours

# A row left `queued` this long lost its broker message (Redis restarted): enqueue it again.
REQUEUE_AFTER = timedelta(minutes=2)
# Channels that get reminders: a second phone call is too intrusive, so IVR gets none.
REMINDER_CHANNELS = frozenset({"sms", "email"})
OPEN_SENT = (Status.SENT, Status.DELIVERED)


class Woken(NamedTuple):
    """The times of a row the sweep found due, as it reads them."""

    status: str
    due_at: datetime | None
    queued_at: datetime | None
    sending_at: datetime | None
    expires_at: datetime | None
    # What the next reminder's time depends on (next_reminder).
    id: int = 0
    channel: str | None = None
    sent_at: datetime | None = None
    reminded_at: datetime | None = None
    reminders_sent: int = 0
    reminder_queued_at: datetime | None = None
    reminder: dict | None = None
    quiet_hours: dict | None = None
    customer_timezone: str | None = None
    survey_timezone: str | None = None


def next_reminder(invitation_id: int, channel: str | None, reminder: dict | None, *,
                  sent_at: datetime | None, reminded_at: datetime | None, reminders_sent: int,
                  quiet_hours: dict | None, customer_timezone: str | None,
                  survey_timezone: str | None) -> datetime | None:
    """When a sent invitation's next reminder is due; None when it gets no more.

    `after_seconds` after the send or the last reminder, at most `max` of them, moved out of the
    survey's quiet hours in the respondent's zone (the survey's when the respondent has none) by
    the same rule as the invitation; the spread is drawn per reminder, so every caller agrees.
    """
    if (channel not in REMINDER_CHANNELS or not reminder or sent_at is None
            or reminders_sent >= (reminder.get("max") or 0)):
        return None
    # A row sent again on another channel (fall_back) counts from that send.
    last = max(reminded_at, sent_at) if reminded_at else sent_at
    due = last + timedelta(seconds=reminder["after_seconds"])
    return apply_quiet_hours(due, quiet_hours, customer_timezone or survey_timezone or "UTC",
                             f"reminder:{invitation_id}:{reminders_sent + 1}")


def wake_time(status: str, *, due_at: datetime | None = None, queued_at: datetime | None = None,
              sending_at: datetime | None = None, expires_at: datetime | None = None,
              remind_at: datetime | None = None, reminder_queued_at: datetime | None = None,
              reconcile_after: timedelta | None = None, now: datetime) -> datetime | None:
    """When the sweep must next look at a row in this state; None when it never needs to.

    scheduled: when due; queued: when its broker message counts as lost; sending: when the
    provider is asked what became of it (`reconcile_after` is then required); sent or delivered:
    at its next reminder (`remind_at`, or when a queued reminder's message counts as lost) or at
    expiry, whichever comes first; final states: never.
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
    if reminder_queued_at is not None:
        remind_at = reminder_queued_at + REQUEUE_AFTER
    return min((t for t in (remind_at, expires_at) if t is not None), default=None)


def reminder_queued(now: datetime) -> dict:
    """The values of the sweep's reminder claim: pending from now, looked at again if it is lost."""
    return {"reminder_queued_at": now,
            "wake_at": wake_time(Status.SENT, reminder_queued_at=now, now=now)}


def moved(status: str, *, now: datetime, reconcile_after: timedelta | None = None, **times) -> dict:
    """The values of an UPDATE that moves a row to `status` with `times`, its wake time included.

    Every state change that knows its new times in Python writes wake_at through here, so the
    rule of wake_time() is the only one. Two receipts are written in SQL instead: mark_sent
    keeps a final row's wake time and gives an open one wake_time()'s value for `sent`; and
    mark_delivered keeps a sent row's (its next reminder or expiry), so its update stays HOT.
    """
    inputs = {name: times[name] for name in ("due_at", "queued_at", "sending_at", "expires_at")
              if name in times}
    return {"status": status, **times,
            "wake_at": wake_time(status, now=now, reconcile_after=reconcile_after, **inputs)}


def sweep_action(row: Woken, now: datetime, reconcile_after: timedelta) -> tuple[str, datetime | None]:
    """What the sweep does with a row whose wake time has come, and the row's next wake time.

    Actions: `expire`, `claim` (due), `requeue` (lost), `reconcile` (left to the provider lookup),
    `remind` (a reminder is due), `requeue_reminder` (a claimed reminder's message was lost), or
    `sleep` (nothing to do yet, or ever: the next wake time is then None).
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
    remind_at = None
    if row.status in OPEN_SENT:
        if row.reminder_queued_at is not None:
            if row.reminder_queued_at + REQUEUE_AFTER <= now:
                return "requeue_reminder", now + REQUEUE_AFTER
        else:
            remind_at = next_reminder(
                row.id, row.channel, row.reminder, sent_at=row.sent_at, reminded_at=row.reminded_at,
                reminders_sent=row.reminders_sent, quiet_hours=row.quiet_hours,
                customer_timezone=row.customer_timezone, survey_timezone=row.survey_timezone)
            if remind_at is not None and remind_at <= now:
                return "remind", now + REQUEUE_AFTER
    return "sleep", wake_time(row.status, due_at=row.due_at, queued_at=row.queued_at,
                              sending_at=row.sending_at, expires_at=row.expires_at,
                              remind_at=remind_at, reminder_queued_at=row.reminder_queued_at,
                              reconcile_after=reconcile_after, now=now)
