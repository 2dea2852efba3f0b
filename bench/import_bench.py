"""Interactions imported from a CSV file, beside the same rows posted to the batch API, in one run.

Both paths start from an empty, seeded database of their own on one throw-away PostgreSQL server:
the baseline posts the rows as JSON to POST /api/v1/interactions/batch in batches of 1,000 with
Flask's test client (no network); the import runs `import interactions`' own code
(reports.imports.open_table and import_interactions) on a CSV of the same rows, reading the file
included. Every row is new and plans an invitation, as a real first import does. Prints rows/s
of each, the ratio, and whether the 3,000 rows/s target is met.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--profile]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, postgres

TARGET_ROWS_PER_SECOND = 3000
BATCH = 1000
COLUMNS = ("external_id", "source", "type", "ended_at", "customer.id", "customer.phone", "customer.email",
           "customer.locale", "agent.id", "agent.name", "agent.team", "queue", "order.id", "order.amount",
           "order.currency", "attributes.campaign")


def rows(n: int) -> list[dict]:
    """n interactions as file rows: calls (phone), chats (email) and purchases (email and order)."""
    from survey_service.db import utcnow

    ended = (utcnow() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    out = []
    for i in range(n):
        kind = ("call", "chat", "purchase")[i % 3]
        row = {"external_id": f"e-{i}", "source": "bench", "type": kind, "ended_at": ended,
               "customer.id": f"c-{i}", "customer.locale": "zh-Hans" if i % 2 else "en",
               "agent.id": f"a-{i % 200}", "agent.name": f"Agent {i % 200}", "agent.team": f"t-{i % 12}",
               "queue": ("billing", "sales", "support")[i % 3], "attributes.campaign": "dec"}
        if kind == "call":
            row["customer.phone"] = f"+1628555{i % 10000:04d}" if i < 10000 else f"+86138{i:08d}"
        else:
            row["customer.email"] = f"customer{i}@example.com"
        if kind == "purchase":
            row.update({"order.id": f"o-{i}", "order.amount": f"{10 + i % 90}.50", "order.currency": "CNY"})
        out.append(row)
    return out


def body(row: dict) -> dict:
    """A file row as the API's JSON item."""
    from survey_service.reports.imports import nested

    return nested(row)


def make_app(url: str):
    """The service's app on its own migrated database."""
    from survey_service import create_app
    from survey_service.migrate import upgrade_database

    app = create_app({"TESTING": True, "DATABASE_URL": url, "RATELIMIT_STORAGE_URI": "memory://"})
    upgrade_database(app)
    return app


def seed(app) -> str:
    """The default surveys and an admin key (returned)."""
    from survey_service.auth import create_key
    from survey_service.extensions import db
    from survey_service.surveys.service import seed_default_surveys

    with app.app_context():
        seed_default_surveys()
        _, key = create_key("bench", ["admin"])
        db.session.commit()
    return key


def stored(app) -> tuple[int, int]:
    """How many interactions and invitations the database holds."""
    from sqlalchemy import func, select

    from survey_service.extensions import db
    from survey_service.interactions.models import Interaction
    from survey_service.invitations.models import Invitation

    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Interaction)),
                db.session.scalar(select(func.count()).select_from(Invitation)))


def baseline(url: str, data: list[dict]) -> float:
    """Seconds for the rows through POST /api/v1/interactions/batch, 1,000 a request."""
    app = make_app(url)
    headers = {"Authorization": f"Bearer {seed(app)}"}
    client = app.test_client()
    bodies = [body(r) for r in data]
    started = time.perf_counter()
    for i in range(0, len(bodies), BATCH):
        res = client.post("/api/v1/interactions/batch", json={"items": bodies[i:i + BATCH]}, headers=headers)
        assert res.status_code == 200, res.json
        assert {item["status"] for item in res.json["items"]} == {201}, res.json["items"][0]
    seconds = time.perf_counter() - started
    print(f"  batch API: stored {stored(app)} (interactions, invitations)")
    return seconds


def imported(url: str, path: Path, profile: bool) -> float:
    """Seconds for `import interactions`' code on the CSV, reading the file included."""
    from survey_service.reports import imports

    app = make_app(url)
    seed(app)
    with app.app_context():
        started = time.perf_counter()
        if profile:
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                result = imports.import_interactions(imports.open_table(path, imports.interaction_column))
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        else:
            result = imports.import_interactions(imports.open_table(path, imports.interaction_column))
        seconds = time.perf_counter() - started
    assert result.rejected == 0, result.errors[:3]
    print(f"  import: {result.summary()}")
    print(f"  import: stored {stored(app)} (interactions, invitations)")
    return seconds


def main() -> None:
    """Write the CSV, run both paths on databases of their own, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="Profile the import (slower).")
    args = parser.parse_args()
    data = rows(args.rows)
    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder, postgres() as server:
        path = Path(folder) / "interactions.csv"
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, COLUMNS)
            writer.writeheader()
            writer.writerows(data)
        api_seconds = baseline(database(server, "bench_import_api"), data)
        import_seconds = imported(database(server, "bench_import_file"), path, args.profile)
    api_rate, import_rate = args.rows / api_seconds, args.rows / import_seconds
    print(f"\n{args.rows:,} interactions, each new and planning one invitation")
    print(f"{'path':<44}{'seconds':>9}{'rows/s':>9}{'ratio':>7}")
    print(f"{'POST /api/v1/interactions/batch (baseline)':<44}{api_seconds:>9.1f}{api_rate:>9.0f}{1:>7.2f}")
    print(f"{'import interactions FILE.csv':<44}{import_seconds:>9.1f}{import_rate:>9.0f}"
          f"{import_rate / api_rate:>7.2f}")
    verdict = "met" if import_rate >= TARGET_ROWS_PER_SECOND else "NOT met"
    print(f"target {TARGET_ROWS_PER_SECOND:,} rows/s: {verdict}")


if __name__ == "__main__":
    main()
