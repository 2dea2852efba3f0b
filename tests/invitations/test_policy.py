"""Pure policy: channel choice, quiet hours, sampling, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from survey_service.invitations.policy import (
    Contact,
    apply_quiet_hours,
    in_quiet_hours,
    pick_channel,
    plan_invitation,
)


def survey(**kw):
    base = dict(key="s", channels=["sms", "ivr", "email"], throttle_days=30, sample_rate=1.0,
                delay_seconds=300, quiet_hours=None, timezone="UTC", expires_after_seconds=3600,
                incentive=None)
    base.update(kw)
    return SimpleNamespace(**base)


PHONE, MAIL = "+8613800138000", "a@example.com"


def test_first_reachable_channel_in_order():
    assert pick_channel(["sms", "email"], Contact(email=MAIL), set()) == ("email", MAIL, None)
    assert pick_channel(["email", "sms"], Contact(phone=PHONE, email=MAIL), set())[0] == "email"


def test_opted_out_everywhere_says_opted_out_and_nothing_says_no_contact():
    assert pick_channel(["sms"], Contact(phone=PHONE), {("sms", PHONE)})[2] == "opted_out"
    assert pick_channel(["sms"], Contact(email=MAIL), set())[2] == "no_contact"


def test_pick_after_skips_earlier_channels():
    assert pick_channel(["sms", "ivr", "email"], Contact(phone=PHONE, email=MAIL), set(),
                        after="sms")[0] == "ivr"
    assert pick_channel(["sms", "email"], Contact(phone=PHONE), set(), after="sms")[0] is None


def test_quiet_hours_wrap_midnight():
    start, end = time(21), time(8)
    assert in_quiet_hours(time(22), start, end)
    assert in_quiet_hours(time(7, 59), start, end)
    assert not in_quiet_hours(time(8), start, end)
    assert not in_quiet_hours(time(12), start, end)


def test_due_in_quiet_hours_moves_to_window_end_within_ten_minutes():
    shanghai = ZoneInfo("Asia/Shanghai")
    due = datetime(2026, 11, 1, 22, 30, tzinfo=shanghai).astimezone(UTC)
    moved = apply_quiet_hours(due, {"start": "21:00", "end": "08:00"}, "Asia/Shanghai", "k1")
    local = moved.astimezone(shanghai)
    assert local.date().isoformat() == "2026-11-02"
    assert time(8) <= local.time() < time(8, 10)


def test_quiet_hours_spread_differs_between_interactions():
    due = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    quiet = {"start": "21:00", "end": "08:00"}
    moved = {apply_quiet_hours(due, quiet, "UTC", f"k{i}") for i in range(20)}
    assert len(moved) > 10
    assert all(datetime(2026, 11, 1, 8, tzinfo=UTC) <= m < datetime(2026, 11, 1, 8, 10, tzinfo=UTC)
               for m in moved)


def test_due_outside_quiet_hours_is_unchanged():
    due = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert apply_quiet_hours(due, {"start": "21:00", "end": "08:00"}, "UTC", "k") == due


def _plan(s, contact=Contact(phone=PHONE), ended=None, now=None, key="x", recently=False):
    ended = ended or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    return plan_invitation(survey=s, contact=contact, ended_at=ended, now=now or ended,
                           draw_key=key, opted_out=set(), recently_invited=recently)


def test_plan_schedules_with_delay_and_expiry():
    plan = _plan(survey())
    assert plan.status == "scheduled" and plan.channel == "sms"
    assert plan.due_at == datetime(2026, 11, 1, 12, 5, tzinfo=UTC)
    assert plan.expires_at == datetime(2026, 11, 1, 13, 5, tzinfo=UTC)


def test_plan_throttle_and_sampling():
    assert _plan(survey(), recently=True).suppressed_reason == "throttled"
    assert _plan(survey(throttle_days=0), recently=True).status == "scheduled"
    reasons = [_plan(survey(sample_rate=0.3), key=str(i)).suppressed_reason for i in range(400)]
    kept = reasons.count(None) / len(reasons)
    assert 0.2 < kept < 0.4
    assert _plan(survey(sample_rate=0.0)).suppressed_reason == "sampled_out"


def test_plan_too_late_when_already_expired():
    ended = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    late = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert _plan(survey(), ended=ended, now=late).suppressed_reason == "too_late"


def test_plan_holdout_share_follows_rate():
    s = survey(incentive={"reward": "r", "window_seconds": 60, "holdout_rate": 0.25})
    plans = [_plan(s, key=str(i)) for i in range(400)]
    share = sum(p.holdout for p in plans) / len(plans)
    assert 0.15 < share < 0.35
    assert all(p.incentive_offered != p.holdout for p in plans)
