"""The 30-day agent x day score query through the rollups, beside the raw aggregate over the same answers.

    .venv/bin/python bench/rollup_bench.py [--sizes 1000000,10000000] [--days 365] [--repeat 5]

For each size (answers loaded with COPY by bench/report_data.py, one year of them by default), the
rollups of the query's grain (the zone's days) are brought up to date, then `scores("csat",
group_by=["agent"], bucket="day", tz="Asia/Shanghai")` over the last 30 whole days runs `--repeat`
times each way: from the rollups (`use_rollups=True`, what the API does) and as the raw aggregate
(`use_rollups=False`). Both must give the same rows. Targets: the rollup query at least 20 times
faster, and under 100 ms at 10 million.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, postgres
from bench.report_data import build, connect

TZ = "Asia/Shanghai"
END = datetime(2026, 11, 30, 16, tzinfo=UTC)  # midnight of 1 December in Shanghai


def timed(run, repeat: int) -> tuple[float, object]:
    """Median milliseconds of `repeat` runs after one warm-up, and the last result."""
    result = run()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = tempfile.mkdtemp(prefix="bench-rollup-")
    with postgres() as server:
        url = database(server, "rollup_bench")
        os.environ.update(SURVEY_DATABASE_URL=url, SURVEY_INSTANCE_PATH=folder,
                          SURVEY_REPORT_TIMEZONES=f"UTC,{TZ}", SURVEY_ROLLUP_BATCH="500000")
        from bench.fixtures import app, prepare_service
        from survey_service.extensions import db
        from survey_service.reports import rollups
        from survey_service.reports.models import ScoreRollup
        from survey_service.reports.service import scores

        prepare_service()
        start = END - timedelta(days=30)
        query = {"metric": "csat", "start": start, "end": END, "group_by": ["agent"], "bucket": "day",
                 "tz": TZ}
        results, loaded = [], 0
        for size in sizes:
            with connect(url) as conn:
                built = build(conn, size - loaded, days=args.days, end=END, seed=7 + loaded)
            loaded = size
            print(f"loaded {built['responses']:,} more answers in {built['seconds']:.0f} s", flush=True)
            with app().app_context():
                began = time.perf_counter()
                counted = 0
                # Only the grain the query reads (the zone's days): the others cost the same again each.
                while done := rollups.roll_up(TZ, app().config["ROLLUP_BATCH"]):
                    counted += done
                roll_seconds = time.perf_counter() - began
                db.session.execute(text("ANALYZE score_rollups"))
                rollup_rows = db.session.scalar(select(func.count()).select_from(ScoreRollup))
                in_range = db.session.scalar(text(
                    "SELECT count(*) FROM responses WHERE metric = 'csat' AND answered_at >= :s "
                    "AND answered_at < :e"), {"s": start, "e": END})
                fast_ms, fast = timed(lambda: scores(**query), args.repeat)
                raw_ms, raw = timed(lambda: scores(**query, use_rollups=False), args.repeat)
                db.session.rollback()
            assert fast == raw, "the rollups and the raw answers disagree"
            results.append((size, in_range, rollup_rows, counted, roll_seconds, fast_ms, raw_ms, len(fast)))
            print(f"  counted {counted:,} answers into the {TZ} days in {roll_seconds:.0f} s "
                  f"({counted / roll_seconds:,.0f}/s); {len(fast):,} rows (agent x day) from "
                  f"{in_range:,} answers in range, {rollup_rows:,} rollup rows; rollup {fast_ms:.1f} ms, "
                  f"raw {raw_ms:.0f} ms, {raw_ms / fast_ms:.1f}x", flush=True)
    print(f"\n30-day agent x day CSAT in {TZ}, median of {args.repeat} runs")
    print(f"{'answers':>12}{'in range':>11}{'rollup rows':>13}{'rollup ms':>11}{'raw ms':>9}"
          f"{'raw/rollup':>12}")
    for size, in_range, rows, _, _, fast_ms, raw_ms, _ in results:
        print(f"{size:>12,}{in_range:>11,}{rows:>13,}{fast_ms:>11.1f}{raw_ms:>9.0f}{raw_ms / fast_ms:>12.1f}")
    print("\ntargets")
    for size, _, _, _, _, fast_ms, raw_ms, _ in results:
        ratio = raw_ms / fast_ms
        print(f"  {size:,}: rollup {ratio:.1f}x faster than raw (target >= 20) "
              f"{'met' if ratio >= 20 else 'MISSED'}", end="")
        if size >= 10_000_000:
            print(f"; {fast_ms:.0f} ms (target < 100) {'met' if fast_ms < 100 else 'MISSED'}")
        else:
            print()


if __name__ == "__main__":
    main()
