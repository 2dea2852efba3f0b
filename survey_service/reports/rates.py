"""Response rates: invitations counted by outcome in one grouped SQL statement, and the rates from them.

Definitions (every count is of invitations created in the asked range):

- invited: every invitation made.
- suppressed: those never offered (status `suppressed`), by `suppressed_reason` (`unspecified` if none).
- eligible: invited less suppressed.
- sent: those a provider ever accepted, `sent_at IS NOT NULL`, whatever happened later.
- delivered: those ever delivered, `delivered_at IS NOT NULL`, plus every answered one: an answer
  proves the invitation reached the respondent even when no delivery receipt came (web, IVR, an SMS
  whose receipt was lost).
- failed, responded, expired: status `failed`, `answered`, `expired`.
- responded_after_reminder: answered ones whose answer came after a reminder was claimed.
- rate_end_to_end = responded / eligible, rate_delivered = responded / delivered: percentages 0-100,
  one decimal, null when the denominator is 0.
- time_to_respond_seconds: median and 90th percentile (linear interpolation, percentile_cont) of
  answered_at - sent_at over answered invitations holding both times; null when there are none.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select

from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, Status
from survey_service.reports.service import UnknownSurvey, grouping
from survey_service.surveys.models import Survey

GROUP_COLUMNS = {
    "channel": Invitation.channel,
    "survey": Survey.key,
    "agent": Interaction.agent_id,
    "team": Interaction.team,
    "queue": Interaction.queue,
    "interaction_type": Interaction.type,
}
GROUP_KEYS = tuple(GROUP_COLUMNS)
NO_REASON = "unspecified"


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator as a percentage with one decimal; None when the denominator is 0."""
    if not denominator:
        return None
    return round(100 * numerator / denominator, 1)


def summary(counts: dict) -> dict:
    """The public row fields from one row of aggregates."""
    suppressed = {k: int(v) for k, v in sorted((counts["suppressed"] or {}).items())}
    invited = int(counts["invited"])
    eligible = invited - sum(suppressed.values())
    delivered, responded = int(counts["delivered"]), int(counts["responded"])
    median, p90 = counts["median"], counts["p90"]
    return {
        "invited": invited,
        "suppressed": suppressed,
        "eligible": eligible,
        "sent": int(counts["sent"]),
        "delivered": delivered,
        "failed": int(counts["failed"]),
        "responded": responded,
        "expired": int(counts["expired"]),
        "rate_end_to_end": rate(responded, eligible),
        "rate_delivered": rate(responded, delivered),
        "responded_after_reminder": int(counts["responded_after_reminder"]),
        "time_to_respond_seconds": None if median is None else {"median": round(float(median), 1),
                                                                "p90": round(float(p90), 1)},
    }


def response_rates(start: datetime | None = None, end: datetime | None = None,
                   group_by: list[str] | tuple[str, ...] = (), bucket: str | None = None, tz: str = "UTC",
                   survey_key: str | None = None) -> list[dict]:
    """Rate rows over invitations created in [start, end), grouped by `group_by` and time `bucket`.

    Buckets are cut by PostgreSQL's date_trunc in `tz`, so that the percentiles can be taken in the
    same GROUP BY; they fall where reports.service.bucket_start puts them (a test holds the two together).
    Rows are sorted by group values, missing ones last, then bucket.
    """
    group_by = grouping(group_by, bucket, GROUP_KEYS)
    zone = ZoneInfo(tz)

    conditions = []
    if survey_key is not None:
        survey_id = db.session.execute(select(Survey.id).where(Survey.key == survey_key)).scalar()
        if survey_id is None:
            raise UnknownSurvey(survey_key)
        conditions.append(Invitation.survey_id == survey_id)
    if start is not None:
        conditions.append(Invitation.created_at >= start)
    if end is not None:
        conditions.append(Invitation.created_at < end)

    keys = [GROUP_COLUMNS[k].label(k) for k in group_by]
    if bucket is not None:
        keys.append(func.date_trunc(bucket, Invitation.created_at, tz).label("bucket"))
    status = Invitation.status
    is_suppressed = status == Status.SUPPRESSED
    reason = func.coalesce(Invitation.suppressed_reason, NO_REASON).label("reason")
    # Each suppressed row carries its reason's count in its group, for one jsonb map per group.
    reason_count = (func.count().filter(is_suppressed)
                    .over(partition_by=[*(k.element for k in keys), reason.element]).label("reason_count"))
    seconds = case((status == Status.ANSWERED,
                    func.extract("epoch", Invitation.answered_at - Invitation.sent_at)))
    rows = (select(*keys, status.label("status"), reason, reason_count,
                   Invitation.sent_at.label("sent_at"), Invitation.delivered_at.label("delivered_at"),
                   Invitation.answered_after_reminder.label("after_reminder"), seconds.label("seconds"))
            .select_from(Invitation).join(Interaction, Interaction.id == Invitation.interaction_id)
            .join(Survey, Survey.id == Invitation.survey_id).where(and_(literal(True), *conditions))
            .subquery("rows"))

    c = rows.c
    answered = c.status == Status.ANSWERED
    grouped = [c[k] for k in (*group_by, *(["bucket"] if bucket is not None else []))]
    stmt = (select(
        *grouped,
        func.count().label("invited"),
        func.jsonb_object_agg(c.reason, c.reason_count).filter(c.status == Status.SUPPRESSED)
        .label("suppressed"),
        func.count().filter(c.sent_at.is_not(None)).label("sent"),
        func.count().filter(c.delivered_at.is_not(None) | answered).label("delivered"),
        func.count().filter(c.status == Status.FAILED).label("failed"),
        func.count().filter(answered).label("responded"),
        func.count().filter(c.status == Status.EXPIRED).label("expired"),
        func.count().filter(answered & c.after_reminder).label("responded_after_reminder"),
        func.percentile_cont(0.5).within_group(c.seconds).label("median"),
        func.percentile_cont(0.9).within_group(c.seconds).label("p90"),
    ).group_by(*grouped)
        .having(func.count() > 0)  # no invitations, no row, even without groups
        .order_by(*(col.asc().nulls_last() for col in grouped)))

    items = []
    for row in db.session.execute(stmt).mappings():
        item: dict = {k: row[k] for k in group_by}
        if bucket is not None:
            item["bucket"] = row["bucket"].astimezone(zone).isoformat()
        item.update(summary(row))
        items.append(item)
    return items
