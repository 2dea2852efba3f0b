"""Does DriverStatement still pay for itself? The hot statements run both ways, in one process.

Runs the SMS score statement (for a number with no open invitation, so every run does the same
work) and intake's planning read, N times each through DriverStatement and through SQLAlchemy's
Connection.execute, interleaved in rounds on one autocommit connection, and prints the CPU per
call of each and their ratio. The database's own work is the same either way; the difference is
the Python around it.

    .venv/bin/python bench/driver_bench.py [--calls 3000] [--rounds 5]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with postgres() as server:
        os.environ.update(SURVEY_DATABASE_URL=database(server, "driver_bench"),
                          SURVEY_INSTANCE_PATH=tempfile.mkdtemp(prefix="bench-driver-"))
        from survey_service import create_app
        from survey_service.answers import service
        from survey_service.answers.sms import _SMS_SCORE
        from survey_service.db import utcnow
        from survey_service.fastpath import unit_connection
        from survey_service.interactions.service import _PLANNING
        from survey_service.migrate import upgrade_database
        from survey_service.surveys.service import seed_default_surveys

        app = create_app()
        upgrade_database(app)
        with app.app_context():
            seed_default_surveys()
            from survey_service.extensions import db

            db.session.commit()
        now = utcnow()
        sms = {**service.answer_parameters(service.Answer(score=4, channel="sms"), now),
               "phone": "+14155550000", "message_sid": "SM" + "0" * 32, "until": now}
        planning = {"who_id": "c-1", "who_phone": "+14155550000", "who_email": "a@example.com"}
        cases = {"SMS score": (_SMS_SCORE, sms), "intake planning": (_PLANNING, planning)}
        figures: dict[str, dict[str, list[float]]] = {name: {"driver": [], "execute": []} for name in cases}
        with app.test_request_context():
            connection = unit_connection()
            for _ in range(args.rounds):
                for name, (statement, params) in cases.items():
                    ways = {"driver": lambda s=statement, p=params: s.rows(connection, p),
                            "execute": lambda s=statement, p=params: connection.execute(s.statement, p).all()}
                    for way, run in ways.items():
                        run()
                        start = time.process_time()
                        for _ in range(args.calls):
                            run()
                        figures[name][way].append((time.process_time() - start) / args.calls * 1e6)
        print(f"{'statement':<18} {'DriverStatement':>16} {'execute()':>12} {'ratio':>8}   "
              f"(process CPU µs per call, median of {args.rounds} rounds of {args.calls})")
        for name, ways in figures.items():
            driver, execute = statistics.median(ways["driver"]), statistics.median(ways["execute"])
            print(f"{name:<18} {driver:>16.1f} {execute:>12.1f} {driver / execute:>8.2f}")


if __name__ == "__main__":
    main()
