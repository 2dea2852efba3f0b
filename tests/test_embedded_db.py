"""The embedded PostgreSQL of an instance folder: it starts, keeps its data, recovers a killed server's lock
and runs beside the server of another instance."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from sqlalchemy import create_engine, text

from survey_service.embedded_db import EmbeddedPostgres, EmbeddedPostgresError
from tests.conftest import free_port


@pytest.fixture
def servers():
    """Servers a test makes; each is stopped and any process of its data directory killed afterwards."""
    made: list[EmbeddedPostgres] = []

    def make(instance, port=None) -> EmbeddedPostgres:
        made.append(EmbeddedPostgres(str(instance), port))
        return made[-1]

    yield make
    for server in made:
        server.stop()
        for process in server.processes():
            process.kill()


def run(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def replace_pid(path, pid: int) -> None:
    lines = path.read_text().split("\n")
    path.write_text("\n".join([str(pid), *lines[1:]]))


def test_a_restart_keeps_the_data(tmp_path, servers):
    server = servers(tmp_path)
    assert server.start()
    run(server.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    server.stop()
    assert server.processes() == []
    assert server.start()
    assert run(server.url, "SELECT n FROM kept") == 7
    assert run(server.url, "SHOW server_encoding") == "UTF8"


def test_a_killed_servers_stale_lock_is_recovered(tmp_path, servers):
    """postmaster.pid and the socket lock name a live process that is no postgres of this data dir."""
    server = servers(tmp_path)
    server.start()
    run(server.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    # A reused pid, owned by the server's user, so PostgreSQL alone would take the lock as held.
    stranger = subprocess.Popen(["sleep", "60"], **server._as_user())
    try:
        for lock in (server.data / "postmaster.pid", server.socket_dir / ".s.PGSQL.5432.lock"):
            assert lock.exists()
            replace_pid(lock, stranger.pid)
        assert server.running_pid() is None

        again = servers(tmp_path)
        assert again.start()
        assert run(again.url, "SELECT n FROM kept") == 1
        assert stranger.poll() is None  # recovery touched nothing but the server's own files
    finally:
        stranger.kill()
        stranger.wait()


def test_two_instances_run_side_by_side(tmp_path, servers):
    one, two = servers(tmp_path / "one"), servers(tmp_path / ("long-" + "x" * 120))
    assert one.start() and two.start()
    assert one.url != two.url
    assert two.socket_dir != two.data  # its socket path would not fit in sun_path
    run(one.url, "CREATE TABLE mine (n int)")
    assert run(two.url, "SELECT to_regclass('mine') IS NULL") is True
    assert {p.pid for p in one.processes()}.isdisjoint(p.pid for p in two.processes())


def test_a_port_means_loopback_tcp_and_no_socket(tmp_path, servers):
    port = free_port()
    server = servers(tmp_path, port)
    assert server.start()
    assert run(server.url, "SELECT inet_server_port()") == port
    assert run(server.url, "SHOW unix_socket_directories") == ""
    assert not list(server.data.glob(".s.PGSQL.*"))


def test_a_second_handle_reuses_the_running_server_and_does_not_stop_it(tmp_path, servers):
    owner, guest = servers(tmp_path), servers(tmp_path)
    assert owner.start()
    assert not guest.start()
    guest.stop()
    assert owner.answers()
    owner.stop()
    assert owner.processes() == []


def test_a_server_that_cannot_start_says_why_and_leaves_nothing_running(tmp_path, servers):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = servers(tmp_path, taken.getsockname()[1])
        with pytest.raises(EmbeddedPostgresError, match="could not"):
            server.start()
    assert server.processes() == []
