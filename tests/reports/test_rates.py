"""GET /api/v1/stats/response-rates: every count and rate against hand counts, groups, buckets, errors."""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.reports import rates
from survey_service.reports.service import bucket_start
from survey_service.surveys.models import Survey

URL = "/api/v1/stats/response-rates"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SHANGHAI_MIDNIGHT = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01T00:00+08:00
_ids = itertools.count(1)


def get(client, headers, **query):
    return client.get(URL, query_string=query, headers=headers)


@pytest.fixture
def invite(app, seeded):
    """Store one invitation (and its interaction) in `status`; keywords set Invitation columns.

    `agent`, `team`, `queue` and `type` go to the interaction, `survey` names the survey by key.
    """

    def add(status: str, survey: str = "csat-call", agent: str | None = "a-7", team: str | None = "t-1",
            queue: str | None = "billing", type: str = "call", **columns) -> int:
        with app.app_context():
            survey_id = db.session.execute(select(Survey.id).where(Survey.key == survey)).scalar_one()
            n = next(_ids)
            interaction = Interaction(source="pbx", external_id=f"rates-{n}", type=type, ended_at=T0,
                                      agent_id=agent, team=team, queue=queue, request_hash="0" * 64)
            db.session.add(interaction)
            db.session.flush()
            values = {"channel": "sms", "created_at": T0, **columns}
            inv = Invitation(interaction_id=interaction.id, survey_id=survey_id, status=status, **values)
            db.session.add(inv)
            db.session.commit()
            return inv.id

    return add


def answered(invite, sent_at: datetime, seconds: float, **columns) -> int:
    """An answered invitation `seconds` after it was sent, with no delivery receipt unless given."""
    return invite("answered", sent_at=sent_at, answered_at=sent_at + timedelta(seconds=seconds), **columns)


def test_needs_a_key(client):
    res = get(client, {})
    assert res.status_code == 401


def test_needs_the_reports_scope(client, make_key):
    res = get(client, make_key("interactions:write"))
    assert res.status_code == 403


def test_no_invitations_no_rows(client, reader):
    res = get(client, reader)
    assert res.status_code == 200, res.json
    assert res.json == {"items": []}


BAD = [
    ("from", {"from": "2026-11-01T00:00:00"}),
    ("to", {"to": "yesterday"}),
    ("from", {"from": "2026-11-02T00:00:00+00:00", "to": "2026-11-01T00:00:00+00:00"}),
    ("group_by", {"group_by": "channel,planet"}),
    ("bucket", {"bucket": "year"}),
    ("tz", {"tz": "Nowhere/City"}),
    ("colour", {"colour": "blue"}),
]


@pytest.mark.parametrize(("field", "query"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_query_gets_422_naming_the_field(client, reader, field, query):
    res = get(client, reader, **query)
    assert res.status_code == 422, res.json
    assert list(res.json["errors"]["query"]) == [field]


def test_unknown_group_is_named_in_the_message(client, reader):
    res = get(client, reader, group_by="agent,planet")
    assert "planet" in str(res.json["errors"]["query"]["group_by"])


def test_unknown_survey_is_a_404(client, reader, seeded):
    assert get(client, reader, survey="nope").status_code == 404


def test_every_field_against_hand_counts(client, reader, invite, app):
    sent_at = T0 + timedelta(minutes=1)
    invite("scheduled")
    invite("queued")
    invite("sending")
    invite("sent", sent_at=sent_at)
    invite("delivered", sent_at=sent_at, delivered_at=sent_at)
    invite("delivered", sent_at=sent_at, delivered_at=sent_at)
    invite("failed", failed_at=sent_at)                          # refused by the provider: never sent
    invite("failed", sent_at=sent_at, failed_at=sent_at)         # accepted, then undeliverable
    invite("expired", sent_at=sent_at, delivered_at=sent_at)
    invite("expired")
    invite("suppressed", suppressed_reason="opted_out")
    invite("suppressed", suppressed_reason="opted_out")
    invite("suppressed", suppressed_reason="quiet_period")
    invite("suppressed")
    answered(invite, sent_at, 60, delivered_at=sent_at)
    answered(invite, sent_at, 120)                                # no receipt: counted as delivered
    answered(invite, sent_at, 600, reminded_at=sent_at + timedelta(seconds=300))
    invite("answered", answered_at=sent_at)                       # answered, never marked sent

    res = get(client, reader)
    assert res.status_code == 200, res.json
    # invited 18; suppressed 4 -> eligible 14; sent: sent, 2 delivered, failed-after, expired-1,
    # 3 answered = 8; delivered: 2 delivered, expired-1, 4 answered = 7; responded 4.
    assert res.json["items"] == [{
        "invited": 18,
        "suppressed": {"opted_out": 2, "quiet_period": 1, "unspecified": 1},
        "eligible": 14,
        "sent": 8,
        "delivered": 7,
        "failed": 2,
        "responded": 4,
        "expired": 2,
        "rate_end_to_end": 28.6,   # 4 / 14
        "rate_delivered": 57.1,    # 4 / 7
        "responded_after_reminder": 1,
        "time_to_respond_seconds": {"median": 120.0, "p90": 504.0},  # 60, 120, 600: 120 + 0.8 * 480
    }]


def test_zero_denominators_give_null_rates(client, reader, invite):
    invite("suppressed", suppressed_reason="opted_out")
    invite("suppressed", suppressed_reason="opted_out", channel="email")
    res = get(client, reader, group_by="channel")
    assert res.status_code == 200, res.json
    for row in res.json["items"]:
        assert row["eligible"] == 0 and row["delivered"] == 0
        assert row["rate_end_to_end"] is None and row["rate_delivered"] is None
        assert row["time_to_respond_seconds"] is None
    assert [r["channel"] for r in res.json["items"]] == ["email", "sms"]


def test_rate_arithmetic():
    assert rates.rate(1, 3) == 33.3
    assert rates.rate(2, 3) == 66.7
    assert rates.rate(3, 3) == 100.0
    assert rates.rate(0, 5) == 0.0
    assert rates.rate(0, 0) is None


def test_group_by_channel_and_agent(client, reader, invite):
    sent_at = T0 + timedelta(minutes=1)
    answered(invite, sent_at, 30, agent="a-7", channel="sms", delivered_at=sent_at)
    invite("delivered", agent="a-7", channel="sms", sent_at=sent_at, delivered_at=sent_at)
    invite("sent", agent="a-7", channel="email", sent_at=sent_at)
    answered(invite, sent_at, 90, agent="a-9", channel="email")
    invite("suppressed", agent=None, channel="sms", suppressed_reason="opted_out")
    res = get(client, reader, group_by="channel,agent")
    assert res.status_code == 200, res.json
    rows = [(r["channel"], r["agent"], r["invited"], r["sent"], r["delivered"], r["responded"],
             r["rate_end_to_end"], r["rate_delivered"], r["suppressed"]) for r in res.json["items"]]
    assert rows == [
        ("email", "a-7", 1, 1, 0, 0, 0.0, None, {}),
        ("email", "a-9", 1, 1, 1, 1, 100.0, 100.0, {}),
        ("sms", "a-7", 2, 2, 2, 1, 50.0, 50.0, {}),
        ("sms", None, 1, 0, 0, 0, None, None, {"opted_out": 1}),
    ]
    assert set(res.json["items"][0]) == {"channel", "agent", *rates.summary({
        "suppressed": {}, "invited": 0, "delivered": 0, "responded": 0, "sent": 0, "failed": 0,
        "expired": 0, "responded_after_reminder": 0, "median": None, "p90": None})}


def test_group_by_survey_team_queue_type_and_survey_filter(client, reader, invite):
    invite("sent", survey="csat-call", team="t-1", queue="billing", type="call")
    invite("sent", survey="ces-chat", team="t-2", queue="sales", type="chat")
    res = get(client, reader, group_by="survey,team,queue,interaction_type")
    assert res.status_code == 200, res.json
    keys = [(r["survey"], r["team"], r["queue"], r["interaction_type"]) for r in res.json["items"]]
    assert keys == [("ces-chat", "t-2", "sales", "chat"), ("csat-call", "t-1", "billing", "call")]
    res = get(client, reader, survey="ces-chat", group_by="survey")
    assert [(r["survey"], r["invited"]) for r in res.json["items"]] == [("ces-chat", 1)]


def test_range_is_half_open_on_creation(client, reader, invite):
    invite("sent", created_at=T0 - timedelta(seconds=1))
    invite("sent", created_at=T0)
    invite("sent", created_at=T0 + timedelta(hours=1))
    res = get(client, reader, **{"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()})
    assert [r["invited"] for r in res.json["items"]] == [1]


def test_by_day_in_shanghai_across_utc_midnight(client, reader, invite):
    # 23:00 and 23:59 on 31 October in Shanghai, then 00:30 and 07:59 on 1 November; the last is 23:59
    # UTC, so a UTC day would cut between the first two and the rest differently.
    for at in (SHANGHAI_MIDNIGHT - timedelta(hours=1), SHANGHAI_MIDNIGHT - timedelta(minutes=1)):
        invite("sent", created_at=at)
    for at in (SHANGHAI_MIDNIGHT + timedelta(minutes=30), SHANGHAI_MIDNIGHT + timedelta(hours=7, minutes=59)):
        invite("delivered", created_at=at, delivered_at=at)
    res = get(client, reader, bucket="day", tz="Asia/Shanghai")
    assert res.status_code == 200, res.json
    rows = [(r["bucket"], r["invited"], r["delivered"]) for r in res.json["items"]]
    assert rows == [("2026-10-31T00:00:00+08:00", 2, 0), ("2026-11-01T00:00:00+08:00", 2, 2)]
    res = get(client, reader, bucket="day")
    assert [(r["bucket"], r["invited"]) for r in res.json["items"]] == [("2026-10-31T00:00:00+00:00", 4)]


@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_buckets_fall_where_the_scores_put_them(app, invite, bucket, tz):
    # Around New York's fall-back (1 November 2026), Lord Howe's half hour, month and week ends.
    base = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    times = [base + timedelta(minutes=25 * i) for i in range(12)]
    times += [datetime(2026, 10, 31, 23, 59, tzinfo=UTC), datetime(2026, 10, 4, 15, 45, tzinfo=UTC)]
    for at in times:
        invite("sent", created_at=at)
    zone = ZoneInfo(tz)
    expected: dict[str, int] = {}
    for at in times:
        label = bucket_start(at, bucket, zone).astimezone(zone).isoformat()
        expected[label] = expected.get(label, 0) + 1
    with app.app_context():
        got = {r["bucket"]: r["invited"] for r in rates.response_rates(bucket=bucket, tz=tz)}
    assert got == expected


def test_median_and_p90_match_statistics(client, reader, invite):
    sent_at = T0 + timedelta(minutes=1)
    seconds = [5, 17, 42, 60, 61, 300, 900, 3600, 7200, 86400, 13]
    for s in seconds:
        answered(invite, sent_at, s, delivered_at=sent_at)
    invite("answered", answered_at=sent_at)  # no sent_at: left out of the times
    res = get(client, reader)
    assert res.status_code == 200, res.json
    times = res.json["items"][0]["time_to_respond_seconds"]
    p90 = statistics.quantiles(seconds, n=10, method="inclusive")[8]
    assert times == {"median": round(statistics.median(seconds), 1), "p90": round(p90, 1)}


def test_document_lists_the_errors(client):
    operation = client.get("/api/openapi.json").get_json()["paths"][URL]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])


def test_one_statement_whatever_the_groups(app, invite):
    invite("sent", sent_at=T0)
    statements = []
    with app.app_context():
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            rows = rates.response_rates(group_by=list(rates.GROUP_KEYS), bucket="week", tz="Asia/Shanghai")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert len(rows) == 1
    assert len(statements) == 1, statements
