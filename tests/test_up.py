"""`survey-service up`: the service comes up on a fresh instance; SIGTERM leaves no process behind."""

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


def test_up_serves_then_stops_every_child(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("SURVEY_REDIS_URL", "SURVEY_DATABASE_URL", "SURVEY_SMTP_HOST")}
    env.update(SURVEY_INSTANCE_PATH=str(tmp_path / "instance"), SURVEY_EMBEDDED_REDIS_PORT=str(free_port()))
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*command(), "up", "--port", str(port)], stdout=stdout, stderr=stderr,
                                env=env)
    base = f"http://127.0.0.1:{port}"
    children: list[psutil.Process] = []
    try:
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, proc, "answer on /healthz", err)
        wait_for(lambda: "ready" in out.read_text().splitlines(), proc, "'ready'", err)
        status, body = get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}

        key = re.search(r"^admin API key \(shown once\): (sk_\S+)$", out.read_text(), re.M).group(1)
        status, body = get(f"{base}/api/v1/surveys", {"Authorization": f"Bearer {key}"})
        assert status == 200
        assert {s["key"] for s in json.loads(body)["items"]} == {
            "csat-call", "ces-chat", "csat-purchase", "aes-agent"}
        assert f"{base}/api/docs" in out.read_text()
        assert f"{base}/dashboard" in out.read_text()

        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for program in ("redis-server", "gunicorn", "worker.app worker", "worker.app beat"):
            assert program in names

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert [c.pid for c in children if not gone(c)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in children:
            if not gone(child):
                child.kill()


def test_up_refuses_a_taken_redis_port_and_leaves_nothing_running(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {k: v for k, v in os.environ.items() if k != "SURVEY_REDIS_URL"}
        env.update(SURVEY_INSTANCE_PATH=str(tmp_path), SURVEY_EMBEDDED_REDIS_PORT=str(taken.getsockname()[1]))
        result = subprocess.run([*command(), "up", "--port", str(free_port())], env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "is taken" in result.stderr
    assert "admin API key" not in result.stdout
