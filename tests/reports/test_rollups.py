"""Score rollups: each answer counted once (late commits, reason steps), and exactly the raw figures."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, insert, select, text

from survey_service.answers.models import Conversation, Response, new_response_id
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from survey_service.reports import rollups
from survey_service.reports.models import SLOTS, ScoreRollup
from survey_service.reports.service import scores
from survey_service.surveys.models import Survey

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Australia/Adelaide",
         "America/New_York", "Asia/Shanghai")
REPORT_ZONES = "UTC,Asia/Kolkata,America/St_Johns,Australia/Adelaide"
T0 = datetime(2026, 3, 26, tzinfo=UTC)  # Adelaide and St John's change their clocks in the next weeks


@pytest.fixture
def zones(monkeypatch, app):
    monkeypatch.setitem(app.config, "REPORT_TIMEZONES", REPORT_ZONES)


def _surveys(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Survey.key, Survey.id)).all())


def _store(app, rows: list[dict]) -> list[str]:
    """Insert answers straight into the table (each row: survey id, metric, score, answered_at, ...)."""
    ids = []
    with app.app_context():
        for row in rows:
            row = {"id": new_response_id(), "channel": "sms", "interaction_type": "call", **row}
            if row.get("anonymous"):
                row["answered_at"] = row["answered_at"].replace(hour=0, minute=0, second=0, microsecond=0)
            ids.append(row["id"])
            db.session.execute(insert(Response), [row])
        db.session.commit()
    return ids


def _csat(app, scores_at: list[tuple[int, datetime]], **columns) -> list[str]:
    sid = _surveys(app)["csat-call"]
    return _store(app, [{"survey_id": sid, "metric": "csat", "score": s, "answered_at": at, **columns}
                        for s, at in scores_at])


def _roll(app, grain: str = SLOTS, batch: int = 50_000) -> int:
    with app.app_context():
        return rollups.roll_up(grain, batch)


def _counted(app, grain: str = SLOTS) -> int:
    with app.app_context():
        sums = dict(db.session.execute(select(ScoreRollup.cube, func.sum(ScoreRollup.n))
                                       .where(ScoreRollup.grain == grain).group_by(ScoreRollup.cube)).all())
    assert len(set(sums.values())) <= 1, sums  # every cube counted the same answers
    return int(sums.get("all", 0))


def _both(app, **query) -> tuple[list, list]:
    with app.app_context():
        return scores(**query), scores(**query, use_rollups=False)


def test_each_answer_is_counted_once_and_the_mark_moves(app, seeded, zones):
    _csat(app, [(5, T0 + timedelta(minutes=m)) for m in range(10)])
    assert _roll(app, batch=4) == 4
    assert _roll(app, batch=4) == 4
    assert _roll(app, batch=4) == 2
    assert _roll(app, batch=4) == 0
    assert _counted(app) == 10
    _csat(app, [(1, T0)])
    assert _roll(app) == 1 and _counted(app) == 11
    with app.app_context():
        assert rollups.roll_up_all() == {SLOTS: 0, "UTC": 11, "Asia/Kolkata": 11, "America/St_Johns": 11,
                                         "Australia/Adelaide": 11}


def test_a_row_committed_late_is_counted_after_it_commits(app, seeded, pg_url):
    """A transaction that began before the run and commits after it: its row is above the horizon."""
    sid = _surveys(app)["csat-call"]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as late:
            late.execute(text("INSERT INTO responses (id, survey_id, metric, score, anonymous, channel, "
                              "answer_channel, answered_at) VALUES ('late', :s, 'csat', 5, false, 'sms', "
                              "'sms', :t)"), {"s": sid, "t": T0})
            _csat(app, [(1, T0)])  # committed first, with a newer transaction id
            assert _roll(app) == 0  # the open transaction holds the horizon below both
            late.commit()
        assert _roll(app) == 2
        assert _roll(app) == 0 and _counted(app) == 2
    finally:
        engine.dispose()


def test_an_answer_in_its_reason_step_is_counted_when_the_step_closes(app, seeded, interaction_row):
    inv_id = interaction_row()
    [rid] = _csat(app, [(4, T0)])
    with app.app_context():
        db.session.add(Conversation(invitation_id=inv_id, channel="sms", state="reason", response_id=rid))
        db.session.commit()
    assert _roll(app) == 0
    with app.app_context():
        [row] = scores("csat")  # the raw rest includes it
        assert row["n"] == 1
        # ANON in the reason step: the answer loses its hour; the step closes
        db.session.execute(text("UPDATE responses SET anonymous = true, answered_at = date_trunc('day', "
                                "answered_at, 'UTC') WHERE id = :id"), {"id": rid})
        db.session.execute(text("UPDATE conversations SET response_id = NULL"))
        db.session.commit()
    assert _roll(app) == 1 and _roll(app) == 0
    with app.app_context():
        [row] = db.session.execute(select(ScoreRollup.day_only, ScoreRollup.period)
                                   .where(ScoreRollup.cube == "all")).all()
    assert row == (True, T0)


def test_two_runs_at_once_count_each_answer_once(app, seeded):
    _csat(app, [(s % 5 + 1, T0 + timedelta(seconds=s)) for s in range(500)])
    results = []

    def run():
        results.append(_roll(app, batch=300))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 300]
    assert _counted(app) == 500


def test_hour_buckets_give_anonymous_answers_a_row_of_their_day(app, seeded, zones):
    _csat(app, [(5, T0 + timedelta(hours=3, minutes=40)), (4, T0 + timedelta(hours=4, minutes=20))])
    _csat(app, [(1, T0 + timedelta(hours=15))], anonymous=True)
    _roll(app)
    rows, raw = _both(app, metric="csat", bucket="hour", tz="Asia/Kolkata")
    assert rows == raw
    assert [(r["bucket"], r["day_only"], r["n"]) for r in rows] == [
        ("2026-03-26T00:00:00+05:30", True, 1),   # the anonymous answer: its day, not its midnight hour
        ("2026-03-26T09:00:00+05:30", False, 2),  # 03:40 and 04:20 UTC
    ]


def test_anonymous_answers_stay_on_their_day_west_of_utc(app, seeded, zones):
    """Kept as the UTC date 2026-03-26, placed on the 26th in New York (not the evening of the 25th)."""
    _csat(app, [(1, T0 + timedelta(hours=2))], anonymous=True)
    rows, raw = _both(app, metric="csat", bucket="day", tz="America/New_York")
    assert rows == raw and [(r["bucket"], r["n"]) for r in rows] == [("2026-03-26T00:00:00-04:00", 1)]
    start = datetime(2026, 3, 26, 4, tzinfo=UTC)  # 00:00 in New York
    rows, raw = _both(app, metric="csat", start=start, end=start + timedelta(days=1), tz="America/New_York")
    assert rows == raw and rows[0]["n"] == 1


def test_scores_group_by_an_interaction_attribute(app, client, seeded, admin, make_key):
    for n, (campaign, band) in enumerate([("spring", "high"), ("spring", "low"), ("autumn", "high")]):
        body = {"external_id": f"o-{n}", "source": "shop", "type": "call", "ended_at": T0.isoformat(),
                "customer": {"id": f"c-{n}", "phone": f"+861380013800{n}"},
                "attributes": {"campaign": campaign, "band": band}}
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
    with app.app_context():
        for inv in db.session.scalars(select(Invitation).order_by(Invitation.id)):
            _csat(app, [(5 if inv.id % 2 else 2, T0)], invitation_id=inv.id,
                  interaction_id=inv.interaction_id)
    _csat(app, [(3, T0)], anonymous=True)
    res = client.get("/api/v1/scores", headers=make_key("reports:read"),
                     query_string={"metric": "csat", "group_by": "attributes.campaign,team"})
    assert res.status_code == 200, res.json
    assert [(r["attributes"], r["n"]) for r in res.json["items"]] == [
        ({"campaign": "autumn"}, 1), ({"campaign": "spring"}, 2), ({"campaign": None}, 1)]
    bad = client.get("/api/v1/scores", query_string={"metric": "csat", "group_by": "attributes."},
                     headers=make_key("reports:read"))
    assert bad.status_code == 422 and "group_by" in bad.json["errors"]["query"]
    for name in ('a"; DROP TABLE responses; --', "活动" * 32, "x" * 64, "band"):
        res = client.get("/api/v1/scores", headers=make_key("reports:read"),
                         query_string={"metric": "csat",
                                       "group_by": f"attributes.{name},attributes.campaign"})
        assert res.status_code == 200, res.json
        assert sum(r["n"] for r in res.json["items"]) == 4
        assert all(set(r["attributes"]) == {name, "campaign"} for r in res.json["items"])


def test_a_mean_interval_never_leaves_the_scale(app, seeded):
    sid = _surveys(app)["ces-chat"]
    _store(app, [{"survey_id": sid, "metric": "ces", "score": s, "answered_at": T0} for s in (7, 6)])
    with app.app_context():
        [row] = scores("ces")
    assert row["mean"] == 6.5 and row["ci95"][1] == 7 and row["ci95"][0] >= 1


METRICS = {"csat-call": "csat", "ces-chat": "ces", "csat-purchase": "csat", "aes-agent": "aes"}
MOMENTS = st.integers(0, 6 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))
ANSWERS = st.lists(st.fixed_dictionaries({
    "survey": st.sampled_from(["csat-call", "ces-chat", "csat-purchase", "aes-agent"]),
    "score": st.integers(1, 5), "at": MOMENTS, "anonymous": st.booleans(),
    "agent_id": st.sampled_from(["a-1", "a-2", None]), "team": st.sampled_from(["red", "blue"]),
    "queue": st.sampled_from(["billing", None]), "channel": st.sampled_from(["sms", "email", "ivr"]),
    "answer_channel": st.sampled_from(["sms", "web", "ivr"]),
    "task": st.sampled_from(["refund", "billing-lookup", "退款", None]),
}), min_size=1, max_size=40)
QUERIES = st.fixed_dictionaries({
    "metric": st.sampled_from(["csat", "ces", "aes"]),
    "group_by": st.lists(st.sampled_from(["agent", "team", "queue", "channel", "answer_channel",
                                          "interaction_type", "task", "survey"]), max_size=3, unique=True),
    "bucket": st.sampled_from([None, "hour", "day", "week", "month"]),
    "tz": st.sampled_from(ZONES),
    "start": st.one_of(st.none(), MOMENTS, MOMENTS.map(lambda m: m.replace(hour=0, minute=0))),
    "length": st.one_of(st.none(), st.integers(1, 6 * 24 * 60)),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=ANSWERS, later=ANSWERS, held=st.integers(0, 3), batch=st.integers(1, 30),
       queries=st.lists(QUERIES, min_size=1, max_size=4))
def test_rollups_and_raw_answers_agree(app, seeded, zones, interaction_row, first, later, held, batch,
                                      queries):
    """Random answers, partly counted (a batch at a time, some held back), read both ways: the same rows."""
    ids = _surveys(app)
    with app.app_context():
        db.session.execute(text("TRUNCATE score_rollups, rollup_marks, conversations, responses CASCADE"))
        db.session.commit()

    def stored(answers):
        return _store(app, [{"survey_id": ids[a["survey"]], "metric": METRICS[a["survey"]],
                             "score": a["score"], "answered_at": a["at"],
                             **{k: a[k] for k in ("anonymous", "agent_id", "team", "queue", "channel",
                                                  "answer_channel", "task")}} for a in answers])

    stored(first)
    with app.app_context():
        invitations = db.session.scalars(select(Invitation.id)).all()
        while len(invitations) < 3:
            invitations.append(interaction_row(f"c-{len(invitations)}"))
        held_ids = db.session.scalars(select(Response.id).limit(held)).all()
        for inv_id, rid in zip(invitations, held_ids, strict=False):
            db.session.add(Conversation(invitation_id=inv_id, channel="sms", state="reason", response_id=rid))
        db.session.commit()
        for grain in rollups.grains():
            rollups.roll_up(grain, batch)
    stored(later)
    for query in queries:
        query = dict(query)
        start, length = query.pop("start"), query.pop("length")
        end = start + timedelta(minutes=length) if start is not None and length is not None else None
        with app.app_context():
            assert scores(**query, start=start, end=end) == scores(**query, start=start, end=end,
                                                                    use_rollups=False), query


@pytest.fixture
def interaction_row(app, seeded):
    """An interaction and one invitation for it; returns the invitation id."""

    def make(external_id: str = "c-1") -> int:
        from survey_service.interactions.models import Interaction

        with app.app_context():
            inter = Interaction(source="pbx", external_id=external_id, type="call", ended_at=T0,
                                request_hash="0" * 64)
            db.session.add(inter)
            db.session.flush()
            inv = Invitation(interaction_id=inter.id, survey_id=_surveys(app)["csat-call"], channel="sms",
                             status="answered", due_at=T0)
            db.session.add(inv)
            db.session.commit()
            return inv.id

    return make


def test_partial_days_at_the_ends_are_read_raw(app, seeded, zones):
    _csat(app, [(5, T0 + timedelta(hours=h)) for h in range(0, 72, 5)])
    for grain in ("UTC", "Asia/Kolkata", SLOTS):
        _roll(app, grain)
    start, end = T0 + timedelta(hours=7, minutes=13), T0 + timedelta(hours=50, minutes=1)
    for tz, bucket in (("Asia/Kolkata", "day"), ("UTC", None), ("Asia/Kathmandu", "hour")):
        rows, raw = _both(app, metric="csat", start=start, end=end, tz=tz, bucket=bucket)
        assert rows == raw and sum(r["n"] for r in rows) == 9
