"""bench/report_data.py: the benchmarks' data set looks like the service's own rows, anonymity included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.report_data import build, connect
from survey_service.reports import feed

END = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_build_loads_answers_the_feed_serves(app, seeded, pg_url):
    indexes = ("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('responses', 'interactions') "
               "ORDER BY indexname")
    with connect(pg_url) as conn:
        before = conn.execute(indexes).fetchall()
        conn.commit()
        result = build(conn, 3000, days=10, agents=7, teams=3, queues=2, anonymous_share=0.2, end=END,
                       vacuum=False)
        outside = conn.execute("SELECT count(*) FROM responses r JOIN surveys s ON s.id = r.survey_id "
                               "WHERE r.score NOT BETWEEN s.scale_min AND s.scale_max").fetchone()[0]
        linked_anonymous = conn.execute(
            "SELECT count(*) FROM responses WHERE anonymous AND (customer_id IS NOT NULL OR interaction_id "
            "IS NOT NULL OR invitation_id IS NOT NULL OR answered_at <> date_trunc('day', answered_at))"
        ).fetchone()[0]
        unlinked_named = conn.execute("SELECT count(*) FROM responses WHERE NOT anonymous AND "
                                      "(interaction_id IS NULL OR customer_id IS NULL)").fetchone()[0]
        after = conn.execute(indexes).fetchall()
    assert len(before) > 4 and after == before  # dropped for the load, built again
    assert outside == 0
    assert linked_anonymous == 0 and unlinked_named == 0
    assert 300 < result["anonymous"] < 900  # a fifth of 3,000, give or take chance
    with app.app_context():
        rows = list(feed.stream())
    assert len(rows) == 3000
    assert {r["channel"] for r in rows} == {"sms", "email", "ivr"}
    assert {r["agent"] for r in rows} <= {f"a-{n}" for n in range(7)}
    assert {r["team"] for r in rows} <= {"t-0", "t-1", "t-2"} and len({r["queue"] for r in rows}) == 2
    assert {r["survey"] for r in rows} == {"csat-call", "ces-chat", "csat-purchase", "aes-agent"}
    named = [datetime.fromisoformat(r["answered_at"]) for r in rows if not r["anonymous"]]
    assert END - timedelta(days=10) <= min(named) and max(named) < END
    assert all("interaction" in r and r["customer_id"] for r in rows if not r["anonymous"])
    assert all(len(r["answered_at"]) == 10 for r in rows if r["anonymous"])
