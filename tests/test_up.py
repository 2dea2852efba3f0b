"""`survey-service up`: the service comes up on a fresh instance with its embedded PostgreSQL and Redis,
keeps its data across a restart, and SIGTERM leaves no process behind, PostgreSQL stopped last."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from survey_service.embedded_db import processes_in
from tests.conftest import free_port

pytestmark = pytest.mark.stack

STARTUP_LIMIT = 60.0


def command() -> list[str]:
    """The installed console script when there is one, else the module."""
    script = Path(sys.executable).parent / "survey-service"
    return [str(script)] if script.exists() else [sys.executable, "-m", "survey_service.cli"]


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def wait_for(condition, proc: subprocess.Popen, what: str, log: Path) -> None:
    """Poll until `condition()` holds; fail early with the log if `up` exits or never gets there."""
    deadline = time.monotonic() + STARTUP_LIMIT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"up exited with {proc.returncode} before {what}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {STARTUP_LIMIT:.0f} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Service:
    """A running `survey-service up` and where its output goes."""

    def __init__(self, tmp_path: Path, run: str = "up", **extra_env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.instance = tmp_path / "instance"
        env = {k: v for k, v in os.environ.items()
               if k not in ("SURVEY_REDIS_URL", "SURVEY_DATABASE_URL", "SURVEY_SMTP_HOST", "SURVEY_LOG_LEVEL",
                            "SURVEY_EMBEDDED_POSTGRES_PORT")}
        env.update(SURVEY_INSTANCE_PATH=str(self.instance), SURVEY_EMBEDDED_REDIS_PORT=str(free_port()),
                   SURVEY_SWEEP_SECONDS="1", **extra_env)
        self.out, self.err = tmp_path / f"{run}.out", tmp_path / f"{run}.err"
        with self.out.open("w") as stdout, self.err.open("w") as stderr:
            self.proc = subprocess.Popen([*command(), "up", "--port", str(self.port)], stdout=stdout,
                                         stderr=stderr, env=env)
        self.children: list[psutil.Process] = []

    def wait_ready(self) -> None:
        wait_for(lambda: get(f"{self.base}/healthz")[0] == 200, self.proc, "answer on /healthz", self.err)
        wait_for(lambda: "ready" in self.out.read_text().splitlines(), self.proc, "'ready'", self.err)
        self.children = psutil.Process(self.proc.pid).children(recursive=True)

    def child(self, fragment: str) -> psutil.Process:
        return next(c for c in self.children if fragment in " ".join(c.cmdline()))

    def left_behind(self) -> list[int]:
        return [c.pid for c in self.children if not gone(c)]

    def postgres(self) -> list[psutil.Process]:
        """Live postgres processes of this instance's data directory."""
        return processes_in(self.instance / "postgres")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for child in self.children:
            if not gone(child):
                child.kill()


@pytest.fixture
def service(tmp_path):
    running = Service(tmp_path)
    yield running
    running.cleanup()


def test_up_serves_then_stops_every_child(service, tmp_path):
    service.wait_ready()
    base = service.base
    status, body = get(f"{base}/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}

    printed = service.out.read_text()
    key = re.search(r"^admin API key \(shown once\): (sk_\S+)$", printed, re.M).group(1)
    status, body = get(f"{base}/api/v1/surveys", {"Authorization": f"Bearer {key}"})
    assert status == 200
    assert {s["key"] for s in json.loads(body)["items"]} == {
        "csat-call", "ces-chat", "csat-purchase", "aes-agent"}
    # The key comes last, after the URLs, set apart, with how to make another.
    assert printed.index(f"{base}/api/docs") < printed.index(f"{base}/dashboard") < printed.index(key)
    block = printed[printed.index(key):].splitlines()
    assert "keys create --name admin --scope admin" in block[2]
    assert block[3].startswith("====") and block[4:] == [""]
    for program in ("postgres -D", "redis-server", "gunicorn", "worker.app worker", "worker.app beat"):
        assert service.child(program)
    assert service.postgres()

    time.sleep(3)  # three sweeps: beat's and the worker's routine lines stay out of the default level
    logged = service.err.read_text()
    assert "Sending due task" not in logged and "succeeded in" not in logged

    service.stop()
    assert service.left_behind() == []
    assert service.postgres() == []
    # Stopped last: its clients had closed their connections, so the shutdown cut none.
    assert "terminating connection" not in (service.instance / "postgres.log").read_text()

    again = Service(tmp_path, run="again", SURVEY_LOG_LEVEL="info")
    try:
        again.wait_ready()
        status, _ = get(f"{again.base}/api/v1/surveys", {"Authorization": f"Bearer {key}"})
        assert status == 200  # the key made on the first start survived the restart
        printed = again.out.read_text()
        assert "admin API key (shown once)" not in printed
        assert "created the default surveys" not in printed
        assert "keys create --name admin --scope admin" in printed.splitlines()[-1]
        wait_for(lambda: "Sending due task" in again.err.read_text(), again.proc, "beat at info",
                 again.err)
        again.stop()
        assert again.left_behind() == [] and again.postgres() == []
    finally:
        again.cleanup()


def test_a_dying_child_stops_the_rest_and_fails(service):
    service.wait_ready()
    service.child("worker.app beat").kill()
    assert service.proc.wait(timeout=60) == 1
    assert re.search(r"beat \(pid \d+\) exited with code -9; stopping", service.err.read_text())
    assert service.left_behind() == []


def test_up_refuses_a_taken_redis_port_and_leaves_nothing_running(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {k: v for k, v in os.environ.items() if k not in ("SURVEY_REDIS_URL", "SURVEY_DATABASE_URL")}
        env.update(SURVEY_INSTANCE_PATH=str(tmp_path), SURVEY_EMBEDDED_REDIS_PORT=str(taken.getsockname()[1]))
        result = subprocess.run([*command(), "up", "--port", str(free_port())], env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "is taken" in result.stderr
    assert "admin API key" not in result.stdout
    assert (tmp_path / "postgres" / "PG_VERSION").exists()  # it had started PostgreSQL, and stopped it
    assert processes_in(tmp_path / "postgres") == []
