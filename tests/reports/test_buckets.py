"""Time buckets on the caller's clocks, across DST changes and half-hour offsets."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from survey_service.reports.service import bucket_start

NEW_YORK = ZoneInfo("America/New_York")


def shown(at: datetime, bucket: str, zone: str) -> str:
    z = ZoneInfo(zone)
    return bucket_start(at, bucket, z).astimezone(z).isoformat()


def test_fall_back_keeps_the_two_one_oclock_hours_apart():
    # 2026-11-01: New York repeats 01:00-02:00, first at -04:00 then at -05:00.
    first = bucket_start(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "hour", NEW_YORK)
    second = bucket_start(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "hour", NEW_YORK)
    assert first != second
    assert first.astimezone(NEW_YORK).isoformat() == "2026-11-01T01:00:00-04:00"
    assert second.astimezone(NEW_YORK).isoformat() == "2026-11-01T01:00:00-05:00"


def test_day_without_a_midnight_starts_when_it_begins():
    # 2026-09-06: Santiago skips 00:00-01:00, so the day begins at 01:00 -03:00.
    assert shown(datetime(2026, 9, 6, 12, tzinfo=UTC), "day", "America/Santiago") == \
        "2026-09-06T01:00:00-03:00"


@pytest.mark.parametrize(("bucket", "expected"), [
    ("hour", "2026-11-04T17:00:00+05:30"),
    ("day", "2026-11-04T00:00:00+05:30"),
    ("week", "2026-11-02T00:00:00+05:30"),
    ("month", "2026-11-01T00:00:00+05:30"),
])
def test_half_hour_offset(bucket, expected):
    # 11:45 UTC is 17:15 in Kolkata, on Wednesday 4 November 2026.
    assert shown(datetime(2026, 11, 4, 11, 45, tzinfo=UTC), bucket, "Asia/Kolkata") == expected


def test_week_starts_on_monday_across_a_month_end():
    # Sunday 1 November 2026 belongs to the week of Monday 26 October.
    assert shown(datetime(2026, 11, 1, 12, tzinfo=UTC), "week", "UTC") == "2026-10-26T00:00:00+00:00"
