"""The command line: keys are created, listed and revoked on a fresh database; bad input writes nothing.

With SURVEY_DATABASE_URL unset a command starts the instance's embedded PostgreSQL when the service is
not running, and stops it again when it ends.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from survey_service import create_app
from survey_service.cli import main
from survey_service.embedded_db import EmbeddedPostgres


@pytest.fixture
def fresh_db(tmp_path, monkeypatch, new_database):
    """A new instance folder and a new database on the session's server that only this test uses."""
    monkeypatch.setenv("SURVEY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SURVEY_DATABASE_URL", new_database())
    monkeypatch.delenv("SURVEY_REDIS_URL", raising=False)
    return tmp_path


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """A new instance folder on its own embedded PostgreSQL, which nothing is running yet."""
    monkeypatch.setenv("SURVEY_INSTANCE_PATH", str(tmp_path))
    for name in ("SURVEY_DATABASE_URL", "SURVEY_EMBEDDED_POSTGRES_PORT", "SURVEY_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    server = EmbeddedPostgres(str(tmp_path))
    yield server
    server.stop()
    for process in server.processes():
        process.kill()


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def bearer(result) -> dict:
    """The Authorization header for the key a `keys create` printed on its last line."""
    return {"Authorization": f"Bearer {result.stdout.strip().splitlines()[-1]}"}


def web(fresh_db):
    """The app on the same database the commands wrote to."""
    return create_app({"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"}).test_client()


def test_created_key_works_until_revoked(fresh_db):
    created = cli("keys", "create", "--name", "reporting", "--scope", "reports:read", "--scope", "admin")
    assert created.exit_code == 0, created.output
    headers = bearer(created)
    client = web(fresh_db)
    assert client.get("/api/v1/surveys", headers=headers).status_code == 200

    listed = cli("keys", "list")
    row = listed.stdout.splitlines()[1].split()
    assert row[:4] == ["1", "reporting", headers["Authorization"][7:17] + "...", "admin,reports:read"]
    assert headers["Authorization"][7:] not in listed.output

    revoked = cli("keys", "revoke", "1")
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/surveys", headers=headers).status_code == 401
    assert cli("keys", "list").stdout.splitlines()[1].split()[-1] != "-"


def test_agent_key_names_its_agent(fresh_db):
    created = cli("keys", "create", "--name", "wang", "--scope", "agent", "--agent", "a-7")
    assert created.exit_code == 0, created.output
    assert created.stdout.splitlines()[-1].startswith("sk_")
    assert cli("keys", "list").stdout.splitlines()[1].split()[4] == "a-7"


@pytest.mark.parametrize("args", [
    ["--scope", "reports:write"],
    ["--scope", "reports:read", "--scope", "superuser"],
    ["--scope", "agent"],
    ["--scope", "reports:read", "--agent", "a-7"],  # --agent without the agent scope is an error
])
def test_bad_scopes_exit_2_and_write_nothing(fresh_db, args):
    result = cli("keys", "create", "--name", "x", *args)
    assert result.exit_code == 2
    assert "--scope" in result.output or "--agent" in result.output
    assert "sk_" not in result.output
    assert cli("keys", "list").stdout.splitlines() == ["id  name  hint  scopes  agent  created  revoked"]


def test_revoking_an_unknown_key_fails(fresh_db):
    result = cli("keys", "revoke", "42")
    assert result.exit_code == 1
    assert "no live key with id 42" in result.output


def test_surveys_list_after_seeding(fresh_db):
    from survey_service.extensions import db
    from survey_service.migrate import upgrade_database
    from survey_service.surveys.service import seed_default_surveys

    app = create_app()
    upgrade_database(app)
    with app.app_context():
        seed_default_surveys()
        db.session.commit()
    lines = cli("surveys", "list").stdout.splitlines()
    assert lines[0].split() == ["key", "metric", "channels", "active"]
    assert ["ces-chat", "ces", "email,sms", "yes"] in [line.split() for line in lines[1:]]


def test_outbox_shows_the_newest_kept_messages(fresh_db):
    from survey_service.delivery.models import OutboxMessage
    from survey_service.extensions import db
    from survey_service.migrate import upgrade_database

    assert "The outbox is empty." in cli("outbox").output
    app = create_app({"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"})
    upgrade_database(app)
    with app.app_context():
        for n in range(3):
            db.session.add(OutboxMessage(channel="email", to=f"p{n}@example.com", subject=f"S{n}",
                                         body_text=f"link {n}"))
        db.session.add(OutboxMessage(channel="sms", to="+8613800138000", body_text="sms text"))
        db.session.commit()
    shown = cli("outbox", "--last", "2", "--channel", "email").output
    assert "p2@example.com" in shown and "p1@example.com" in shown and "p0@" not in shown
    assert shown.index("S1") < shown.index("S2")
    assert "sms text" not in shown
    assert cli("outbox", "--last", "0").exit_code == 2


def test_a_command_starts_the_embedded_server_and_stops_it_again(embedded):
    created = cli("keys", "create", "--name", "reporting", "--scope", "reports:read")
    assert created.exit_code == 0, created.output
    assert embedded.processes() == []  # the command started its own server and stopped it
    assert (embedded.data / "PG_VERSION").exists()

    listed = cli("keys", "list")  # a second start of the same data directory keeps the key
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1].split()[1] == "reporting"
    assert embedded.processes() == []


def test_a_command_reuses_a_running_server_and_leaves_it_running(embedded):
    assert embedded.start()  # as `up` would have
    pid = embedded.running_pid()
    result = cli("surveys", "list")
    assert result.exit_code == 0, result.output
    assert embedded.running_pid() == pid
    assert embedded.answers()


def test_rollups_run_counts_new_answers_once_and_rebuild_counts_all_again(fresh_db):
    from datetime import UTC, datetime

    from sqlalchemy import func, insert, select

    from survey_service.answers.models import Response, new_response_id
    from survey_service.extensions import db
    from survey_service.migrate import upgrade_database
    from survey_service.reports.models import ScoreRollup
    from survey_service.surveys.models import Survey
    from survey_service.surveys.service import seed_default_surveys

    app = create_app()
    upgrade_database(app)
    with app.app_context():
        seed_default_surveys()
        sid = db.session.scalar(select(Survey.id).where(Survey.key == "csat-call"))
        db.session.execute(insert(Response), [
            {"id": new_response_id(), "survey_id": sid, "metric": "csat", "score": 1 + n % 5,
             "channel": "sms", "answered_at": datetime(2026, 11, 1, n % 24, tzinfo=UTC)} for n in range(30)])
        db.session.commit()
    grains = len(app.config["REPORT_TIMEZONES"].split(",")) + 1
    first = cli("rollups", "run")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == f"Counted {30 * grains} answers into {grains} grains in " \
                                   f"{first.stdout.split(' in ')[-1].strip()}"
    assert cli("rollups", "run").stdout.startswith("Counted 0 answers")
    assert cli("rollups", "rebuild").stdout.startswith(f"Counted {30 * grains} answers")
    with app.app_context():
        assert db.session.scalar(select(func.sum(ScoreRollup.n)).where(ScoreRollup.cube == "all")) \
            == 30 * grains
