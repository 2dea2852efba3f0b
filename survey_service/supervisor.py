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

    def start(self, name: str, argv: list[str], stage: int = 1) -> Child:
        """Start `argv` with the shared environment; stdout and stderr stay those of `up`."""
        process = subprocess.Popen(argv, env=self.env, start_new_session=True)
        child = Child(name, process, stage)
        self.children.append(child)
        return child

    def dead(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if not c.alive()), None)

    def stop_all(self) -> None:
        """Stop children stage by stage, last started first; the broker goes after its clients."""
        for stage in sorted({c.stage for c in self.children}, reverse=True):
            self._stop([c for c in self.children if c.stage == stage])

    def _stop(self, children: list[Child]) -> None:
        """SIGTERM the group leaders, wait, SIGKILL what is left of each group."""
        for child in children:
            if child.alive():
                child.process.send_signal(signal.SIGTERM)
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
