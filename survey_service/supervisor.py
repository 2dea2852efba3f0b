"""Child processes of `survey-service up`: start them, notice one dying, stop them all together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Child:
    """One started program; `stage` orders shutdown (higher stages stop first)."""

    name: str
    process: subprocess.Popen
    stage: int
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


class Supervisor:
    """Owns every child; each runs in its own process group so its own children can be reaped too."""

    def __init__(self, env: dict[str, str], stop_timeout: float = 15.0):
        self.env = env
        self.stop_timeout = stop_timeout
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], stage: int = 1, stop_signal: int = signal.SIGTERM,
              **popen) -> Child:
        """Start `argv` with the shared environment; stdout and stderr stay those of `up` unless given."""
        popen.setdefault("env", self.env)
        process = subprocess.Popen(argv, start_new_session=True, **popen)
        child = Child(name, process, stage, stop_signal)
        self.children.append(child)
        return child

    def dead(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if not c.alive()), None)

    def stop_all(self) -> None:
        """Stop children stage by stage; the broker and then the database go after their clients."""
        for stage in sorted({c.stage for c in self.children}, reverse=True):
            self._stop([c for c in self.children if c.stage == stage])

    def _stop(self, children: list[Child]) -> None:
        """Signal the group leaders (SIGTERM unless a child asks otherwise), wait, SIGKILL what is left."""
        for child in children:
            if child.alive():
                child.process.send_signal(child.stop_signal)
        deadline = time.monotonic() + self.stop_timeout
        for child in children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _killpg(child.pid)
                child.process.wait()
            _killpg(child.pid)  # grandchildren a crashed leader left behind


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
