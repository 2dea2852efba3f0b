"""The responses feed walked end to end: GET /api/v1/responses in pages of 1,000 over a million answers.

Builds the answers with bench/report_data.py on a throw-away PostgreSQL, then walks the whole feed
through the Flask test client with a reports:read key, cursor after cursor, timing every page. The
baseline, measured in the same run, is the same keyset walk as bare SQL on psycopg (the feed's own
query, with its horizon and cursor condition, rows fetched as tuples). Reported: rows per second
(target at least 20,000) and the last pages' time against the first pages' (target within 2x).

    .venv/bin/python bench/feed_bench.py [--rows 1000000] [--page 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, postgres
from bench.report_data import build, connect

EDGE = 10  # pages at each end whose median stands for "first" and "last"

BARE_PAGE = """
SELECT r.id, r.metric, r.score, r.reason, r.anonymous, r.channel, r.answered_at, r.agent_id, r.team,
       r.queue, r.interaction_type, r.locale, r.customer_id, s.key, i.source, i.external_id,
       r.feed_txid::text
FROM responses r
JOIN surveys s ON s.id = r.survey_id
LEFT JOIN interactions i ON i.id = r.interaction_id AND r.anonymous IS false
WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.response_id = r.id)
  AND r.feed_txid < pg_snapshot_xmin(pg_current_snapshot())
  AND (r.feed_txid, r.id) > (%s::xid8, %s)
ORDER BY r.feed_txid, r.id
LIMIT %s
"""


def walk_api(client, headers: dict, page: int) -> list[tuple[float, int]]:
    """Every page of the feed through the app; (seconds, rows) per page."""
    timings, after = [], None
    while True:
        query = {"limit": page, **({"after": after} if after else {})}
        began = time.perf_counter()
        res = client.get("/api/v1/responses", query_string=query, headers=headers)
        body = res.json
        timings.append((time.perf_counter() - began, len(body["items"])))
        if res.status_code != 200:
            raise SystemExit(f"the feed answered {res.status_code}: {body}")
        after = body["next_cursor"]
        if after is None:
            return timings


def walk_sql(url: str, page: int) -> list[tuple[float, int]]:
    """The same keyset walk as bare SQL, one page past the limit to know whether more follow."""
    timings, after = [], ("0", "")
    with connect(url) as conn:
        conn.autocommit = True
        conn.execute("SET plan_cache_mode = force_custom_plan")  # as the app's unprepared statements plan
        while True:
            began = time.perf_counter()
            rows = conn.execute(BARE_PAGE, (*after, page + 1)).fetchall()
            more = len(rows) > page
            rows = rows[:page]
            timings.append((time.perf_counter() - began, len(rows)))
            if not more:
                return timings
            after = (rows[-1][-1], rows[-1][0])


def summary(timings: list[tuple[float, int]]) -> dict:
    """Rows per second over the walk, and the median time of the first and last full pages."""
    seconds = sum(t for t, _ in timings)
    rows = sum(n for _, n in timings)
    full = [t for t, n in timings if n == max(n for _, n in timings)]  # a short last page is no measure
    first, last = statistics.median(full[:EDGE]), statistics.median(full[-EDGE:])
    return {"pages": len(timings), "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "first_ms": first * 1000, "last_ms": last * 1000, "last_vs_first": last / first}


def main() -> None:
    """Build the answers, walk the feed both ways, print the figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    with postgres() as server:
        url = database(server, "feed_bench")
        os.environ.update(SURVEY_DATABASE_URL=url,
                          SURVEY_INSTANCE_PATH=tempfile.mkdtemp(prefix="bench-feed-"))
        from bench.fixtures import app, prepare_service

        prepare_service()
        with connect(url) as conn:
            loaded = build(conn, args.rows)
        print(f"loaded {loaded['responses']:,} answers ({loaded['anonymous']:,} anonymous) and their "
              f"interactions in {loaded['seconds']:.1f} s ({loaded['responses'] / loaded['seconds']:,.0f}/s)")
        flask_app = app()
        with flask_app.app_context():
            from survey_service.auth import create_key
            from survey_service.extensions import db

            _, key = create_key("feed-bench", ["reports:read"])
            db.session.commit()
        bare = summary(walk_sql(url, args.page))
        feed = summary(walk_api(flask_app.test_client(), {"Authorization": f"Bearer {key}"}, args.page))
    print(f"\nthe whole feed of {args.rows:,} answers in pages of {args.page:,} "
          f"(first and last: median of {EDGE} full pages)")
    print(f"{'walk':<36}{'pages':>7}{'rows/s':>10}{'ratio':>7}{'first ms':>10}{'last ms':>9}"
          f"{'last/first':>11}")
    for name, r in (("bare SQL keyset walk (psycopg)", bare), ("GET /api/v1/responses (test client)", feed)):
        print(f"{name:<36}{r['pages']:>7}{r['rows_per_s']:>10,.0f}"
              f"{r['rows_per_s'] / bare['rows_per_s']:>7.2f}{r['first_ms']:>10.1f}"
              f"{r['last_ms']:>9.1f}{r['last_vs_first']:>11.2f}")
    print("\ntargets")
    print(f"  feed rows/s: {feed['rows_per_s']:,.0f} (target >= 20,000) "
          f"{'met' if feed['rows_per_s'] >= 20_000 else 'MISSED'}")
    print(f"  feed last page / first page: {feed['last_vs_first']:.2f} (target <= 2) "
          f"{'met' if feed['last_vs_first'] <= 2 else 'MISSED'}")
    if feed["rows"] != bare["rows"]:
        print(f"  the walks disagree: {feed['rows']:,} rows through the app, {bare['rows']:,} bare")


if __name__ == "__main__":
    main()
