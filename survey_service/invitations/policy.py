"""Pure invitation policy: who is asked, on which channel, when, and why not."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# Channels and the contact field each one needs.
CHANNEL_ADDRESS = {"sms": "phone", "ivr": "phone", "email": "email"}
QUIET_SPREAD_SECONDS = 600


@dataclass(frozen=True)
class Contact:
    """How a respondent can be reached, and where they are."""

    phone: str | None = None
    email: str | None = None
    locale: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Plan:
    """What intake decided for one survey: a channel and due time, or a reason to skip."""

    status: str
    channel: str | None
    address: str | None
    due_at: datetime | None
    expires_at: datetime | None
    suppressed_reason: str | None = None
    incentive_offered: bool = False
    holdout: bool = False

    @property
    def wake_at(self) -> datetime | None:
        """When the sweep first looks at the row (invitations.wake): when due; a skipped one never."""
        from survey_service.invitations.wake import wake_time

        return wake_time(self.status, due_at=self.due_at, now=self.due_at)


def draw(*parts: str) -> float:
    """A stable pseudo-random number in [0, 1) from the given parts (replays draw the same)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_channel(channels: list[str], contact: Contact, opted_out: set[tuple[str, str]],
                 after: str | None = None) -> tuple[str | None, str | None, str | None]:
    """First channel in order (after `after`, if given) the contact can be reached on.

    Returns (channel, address, None), or (None, None, reason) with reason `opted_out` when every
    reachable address has opted out, else `no_contact`.
    """
    order = list(channels)
    if after is not None:
        order = order[order.index(after) + 1:] if after in order else []
    saw_opt_out = False
    for channel in order:
        address = getattr(contact, CHANNEL_ADDRESS.get(channel, ""), None)
        if not address:
            continue
        if (channel, address) in opted_out:
            saw_opt_out = True
            continue
        return channel, address, None
    return None, None, "opted_out" if saw_opt_out else "no_contact"


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """True when `local` lies in [start, end); the window may wrap past midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def apply_quiet_hours(due: datetime, quiet: dict | None, tz: str, spread_key: str) -> datetime:
    """Move a due time inside quiet hours to the window's end, spread over up to 10 minutes."""
    if not quiet:
        return due
    zone = ZoneInfo(tz)
    local = due.astimezone(zone)
    start, end = time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])
    if not in_quiet_hours(local.time().replace(tzinfo=None), start, end):
        return due
    end_day = local.date()
    if local.time() >= end:  # inside a window that wraps: it ends tomorrow
        end_day += timedelta(days=1)
    window_end = datetime.combine(end_day, end, tzinfo=zone)
    spread = timedelta(seconds=int(draw(spread_key, "quiet") * QUIET_SPREAD_SECONDS))
    return (window_end + spread).astimezone(due.tzinfo)


def recently_invited(throttle_days: int | None, last_invited: datetime | None, now: datetime) -> bool:
    """Whether the customer's last non-suppressed invitation to a survey lies within its throttle."""
    if not throttle_days or last_invited is None:
        return False
    return last_invited >= now - timedelta(days=throttle_days)


def plan_invitation(*, survey, contact: Contact, ended_at: datetime, now: datetime,
                    draw_key: str, opted_out: set[tuple[str, str]],
                    recently_invited: bool) -> Plan:
    """Decide one survey's invitation for one interaction.

    Order of checks: contact (no_contact / opted_out), throttle, sampling, then timing.
    """
    channel, address, reason = pick_channel(survey.channels, contact, opted_out)
    if reason:
        return Plan("suppressed", None, None, None, None, reason)
    if survey.throttle_days and recently_invited:
        return Plan("suppressed", channel, None, None, None, "throttled")
    if draw(draw_key, survey.key, "sample") >= survey.sample_rate:
        return Plan("suppressed", channel, None, None, None, "sampled_out")
    due = ended_at + timedelta(seconds=survey.delay_seconds)
    due = apply_quiet_hours(due, survey.quiet_hours, contact.timezone or survey.timezone,
                            draw_key)
    expires = due + timedelta(seconds=survey.expires_after_seconds)
    if expires <= now:
        return Plan("suppressed", channel, None, None, None, "too_late")
    offered = holdout = False
    if survey.incentive:
        holdout = draw(draw_key, survey.key, "holdout") < survey.incentive.get("holdout_rate", 0)
        offered = not holdout
    return Plan("scheduled", channel, address, max(due, ended_at), expires, None, offered, holdout)
