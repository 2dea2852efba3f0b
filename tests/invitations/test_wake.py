"""The sweep's wake rules: when a row is next looked at, and what the sweep then does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from survey_service.invitations.wake import REQUEUE_AFTER, Woken, sweep_action, wake_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RECONCILE = timedelta(minutes=5)
HOUR = timedelta(hours=1)


def _row(status, due=None, queued=None, sending=None, expires=None) -> Woken:
    return Woken(status, due, queued, sending, expires)


def test_wake_time_of_each_state():
    times = {"due_at": NOW + HOUR, "queued_at": NOW - HOUR, "sending_at": NOW - HOUR,
             "expires_at": NOW + 7 * 24 * HOUR}

    def wake(status):
        return wake_time(status, **times, reconcile_after=RECONCILE, now=NOW)

    assert wake("scheduled") == NOW + HOUR
    assert wake("queued") == NOW - HOUR + REQUEUE_AFTER
    assert wake("sending") == NOW - HOUR + RECONCILE
    assert wake("sent") == wake("delivered") == NOW + 7 * 24 * HOUR
    for final in ("answered", "expired", "failed", "suppressed"):
        assert wake(final) is None
    assert wake_time("sent", reconcile_after=RECONCILE, now=NOW) is None  # never expires


@pytest.mark.parametrize("row,expected", [
    (_row("scheduled", due=NOW - HOUR, expires=NOW + HOUR), ("claim", NOW + REQUEUE_AFTER)),
    (_row("scheduled", due=NOW + HOUR), ("sleep", NOW + HOUR)),  # woke early (a migrated row)
    (_row("scheduled", due=NOW - 2 * HOUR, expires=NOW - HOUR), ("expire", None)),
    (_row("queued", queued=NOW - REQUEUE_AFTER), ("requeue", NOW + REQUEUE_AFTER)),
    (_row("queued", queued=NOW - timedelta(seconds=30)),
     ("sleep", NOW - timedelta(seconds=30) + REQUEUE_AFTER)),
    (_row("sending", sending=NOW - HOUR, expires=NOW - HOUR), ("reconcile", None)),
    (_row("sent", expires=NOW), ("expire", None)),
    (_row("delivered", expires=NOW + HOUR), ("sleep", NOW + HOUR)),
    (_row("sent"), ("sleep", None)),
    (_row("answered", expires=NOW - HOUR), ("sleep", None)),
    (_row("failed"), ("sleep", None)),
])
def test_sweep_action(row, expected):
    assert sweep_action(row, NOW, RECONCILE) == expected


def test_a_row_the_sweep_puts_to_sleep_never_wakes_in_the_past():
    """Otherwise one pass would find the same rows again and again."""
    moments = [None, NOW - HOUR, NOW, NOW + HOUR]
    for status in ("scheduled", "queued", "sent", "delivered", "answered", "expired"):
        for due in moments:
            for queued in moments:
                for expires in moments:
                    action, wake = sweep_action(_row(status, due, queued, None, expires), NOW,
                                                RECONCILE)
                    if action == "sleep":
                        assert wake is None or wake > NOW, (status, due, queued, expires)
