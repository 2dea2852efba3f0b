"""Export speed and memory: `survey-service export responses` on a million answers, beside PostgreSQL's COPY.

Builds the answers with bench/report_data.py on a throw-away PostgreSQL, then runs the real command
in a child process for CSV and for XLSX and reads each child's peak resident memory (ru_maxrss,
through bench/peak_rss.py). Baselines, measured in the same run: `COPY (<the feed's own query>) TO
STDOUT WITH CSV` of the same rows, and the peak memory of a child that only creates the app.
Targets: CSV at least 50,000 rows/s and under 200 MB; XLSX under 300 MB.

    .venv/bin/python bench/export_bench.py [--rows 1000000] [--formats csv,xlsx]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, database, postgres
from bench.report_data import build, connect

TARGETS = {"csv": {"rows_per_s": 50_000, "peak_mb": 200}, "xlsx": {"peak_mb": 300}}


def run_child(argv: list[str], env: dict) -> dict:
    """Run a command to its end through bench/peak_rss.py; its wall seconds, peak RSS in MB and output."""
    began = time.monotonic()
    with tempfile.NamedTemporaryFile("r") as peak:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "peak_rss.py"), peak.name, *argv],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.monotonic() - began
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
        peak_kib = int(peak.read())
    return {"seconds": wall, "peak_mb": peak_kib / 1024, "stdout": done.stdout}


def export(fmt: str, path: str, env: dict) -> dict:
    """The real command for one format; rows/s over the time the command itself reports."""
    child = run_child([sys.executable, "-m", "survey_service.cli", "export", "responses", "--format", fmt,
                       "--out", path], env)
    found = re.search(r"Exported ([\d,]+) responses .* in ([\d.]+) s\.", child["stdout"])
    rows, seconds = int(found.group(1).replace(",", "")), float(found.group(2))
    return {**child, "rows": rows, "export_seconds": seconds, "rows_per_s": rows / seconds,
            "bytes": os.path.getsize(path)}


def copy_baseline(url: str, path: str, rows: int) -> dict:
    """PostgreSQL writing the feed's rows as CSV itself: the feed's statement inside COPY ... TO STDOUT."""
    from sqlalchemy.dialects import postgresql

    import survey_service.models  # noqa: F401 (every mapper, so the feed's statement compiles)
    from survey_service.reports import feed

    query = str(feed._statement().compile(dialect=postgresql.dialect(),
                                          compile_kwargs={"literal_binds": True}))
    began = time.monotonic()
    with connect(url) as conn, conn.cursor() as cur, open(path, "wb") as out:
        with cur.copy(f"COPY ({query}) TO STDOUT WITH CSV HEADER") as copy:
            for chunk in copy:
                out.write(chunk)
        conn.rollback()
    seconds = time.monotonic() - began
    return {"seconds": seconds, "rows_per_s": rows / seconds, "bytes": os.path.getsize(path)}


def main() -> None:
    """Build the answers, run the baselines and the exports, print the figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    with postgres() as server:
        url = database(server, "export_bench")
        env = {**os.environ, "SURVEY_DATABASE_URL": url, "SURVEY_INSTANCE_PATH": str(folder),
               "PYTHONPATH": str(ROOT)}
        os.environ.update(SURVEY_DATABASE_URL=url, SURVEY_INSTANCE_PATH=str(folder))
        from bench.fixtures import prepare_service

        prepare_service()
        with connect(url) as conn:
            loaded = build(conn, args.rows)
        print(f"loaded {loaded['responses']:,} answers ({loaded['anonymous']:,} anonymous) and their "
              f"interactions in {loaded['seconds']:.1f} s ({loaded['responses'] / loaded['seconds']:,.0f}/s)")
        app_only = run_child([sys.executable, "-c", "from survey_service import create_app; create_app()"],
                             env)
        baseline = copy_baseline(url, str(folder / "copy.csv"), loaded["responses"])
        results = {fmt: export(fmt, str(folder / f"answers.{fmt}"), env)
                   for fmt in args.formats.split(",")}
    print(f"\nexport of {args.rows:,} answers (peak RSS of the child process)")
    print(f"{'what':<34}{'rows/s':>10}{'x COPY':>8}{'seconds':>9}{'peak MB':>9}{'x app':>7}{'MB out':>8}")
    print(f"{'COPY ... TO STDOUT WITH CSV':<34}{baseline['rows_per_s']:>10,.0f}{1:>8.2f}"
          f"{baseline['seconds']:>9.1f}{'-':>9}{'-':>7}{baseline['bytes'] / 1e6:>8.0f}")
    print(f"{'app import + create_app()':<34}{'-':>10}{'-':>8}{app_only['seconds']:>9.1f}"
          f"{app_only['peak_mb']:>9.0f}{1:>7.2f}{'-':>8}")
    for fmt, r in results.items():
        print(f"{'export responses --format ' + fmt:<34}{r['rows_per_s']:>10,.0f}"
              f"{r['rows_per_s'] / baseline['rows_per_s']:>8.2f}{r['export_seconds']:>9.1f}"
              f"{r['peak_mb']:>9.0f}{r['peak_mb'] / app_only['peak_mb']:>7.2f}{r['bytes'] / 1e6:>8.0f}")
    print("\ntargets")
    for fmt, r in results.items():
        for name, target in TARGETS.get(fmt, {}).items():
            value = r[name]
            ok = value >= target if name == "rows_per_s" else value < target
            sign = ">=" if name == "rows_per_s" else "<"
            print(f"  {fmt} {name.replace('_', ' ')}: {value:,.0f} (target {sign} {target:,}) "
                  f"{'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
