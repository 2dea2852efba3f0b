"""Logs carry no phone number, email address, survey token or secret in clear (DESIGN 3, rule 8).

The requests below fail and succeed with recognisable values; everything logged meanwhile, as pytest's
caplog and a plain StreamHandler on the root logger wrote it, is searched for each value in clear.
"""

from __future__ import annotations

import io
import logging
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest
from celery import signals
from gunicorn.config import Config
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.serving import make_server

from survey_service import logs
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions import service as interactions
from survey_service.invitations.models import Invitation
from survey_service.invitations.tokens import new_token
from survey_service.logs import GunicornLogger, MaskedLogRecord, redact, register_secret
from tests.conftest import interaction

PHONE = "+8613800138000"
NATIONAL = "13800138000"
EMAIL = "li.wei@example.com"
KEY = "sk_" + "Zx9" * 14 + "q"
TOKEN = new_token()[0]


def clear_forms(secret: str) -> set[str]:
    """The secret as written raw and URL-encoded; a phone number also without its plus."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    if secret.startswith("+"):
        forms.add(secret[1:])
    return forms


def assert_masked(logged: str, *secrets: str) -> None:
    for secret in secrets:
        for form in clear_forms(secret):
            assert form not in logged, f"{form!r} logged in clear:\n{logged}"


@pytest.fixture
def logged(caplog):
    """All that is logged during the test, every logger at DEBUG: caplog's text and a root StreamHandler's."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield lambda: caplog.text + "\n" + stream.getvalue()
    root.removeHandler(handler)
    for lg, level in levels:
        lg.setLevel(level)


def refused_by_the_database() -> IntegrityError:
    """What the driver says when PostgreSQL refuses a row, parameters and detail included."""
    orig = Exception('duplicate key value violates unique constraint "uq_contact"\n'
                     f"DETAIL:  Key (contact)=({EMAIL}, {PHONE}, {NATIONAL}, {TOKEN}) already exists.")
    statement = "INSERT INTO contacts (phone, email, token) VALUES (%(phone)s, %(email)s, %(token)s)"
    return IntegrityError(statement, {"phone": PHONE, "email": EMAIL, "token": TOKEN}, orig)


def _isolated_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    """A logger of its own with a plain Formatter on an unfiltered handler: only the records mask."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def _sent_invitation(app, client, admin) -> str:
    """A sent csat-call invitation; returns its clear token."""
    res = client.post("/api/v1/interactions", json=interaction(), headers=admin)
    assert res.status_code == 201, res.json
    token, token_hash = new_token()
    with app.app_context():
        inv = db.session.get(Invitation, res.json["invitations"][0]["id"])
        inv.status, inv.token_hash, inv.sent_at = "sent", token_hash, utcnow()
        inv.expires_at = utcnow() + timedelta(days=7)
        db.session.commit()
    return token


@pytest.fixture
def served(app):
    """The app behind werkzeug's own server on loopback, whose request log names path and query."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"

    def request(path: str, data: bytes | None = None, headers: dict | None = None) -> int:
        req = urllib.request.Request(base + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status
        except urllib.error.HTTPError as exc:
            return exc.code

    yield request
    server.shutdown()
    server.server_close()


# -- redact ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "secret"), [
    (f"reply from {PHONE}", PHONE),
    ("call +86 138 0013 8000 or +1 (415) 555-0100", "138 0013 8000"),
    ("call +86 138 0013 8000 or +1 (415) 555-0100", "555-0100"),
    ("call +44 20 7946 0958", "7946 0958"),
    (f"To={quote(PHONE, safe='')}&From=%2B15005550006", "8613800138000"),
    (f"callback?ref={quote(PHONE, safe='')}", "8613800138000"),
    ("Caller=5550100&CallStatus=ringing", "5550100"),
    (f"From={NATIONAL}&To=4155550100&Body=5", NATIONAL),
    ("From=4155550100&Body=5", "4155550100"),
    ("national (415) 555-0100, 415-555-0100, 138-0013-8000", "555-0100"),
    ("national (415) 555-0100, 415-555-0100, 138-0013-8000", "138-0013-8000"),
    (f"customer {NATIONAL} answered", NATIONAL),
    (f"mail to {EMAIL}", EMAIL),
    (f"mail to {quote(EMAIL)} and li%2Btag%40example.com", "li.wei%40example.com"),
    (f"mail to {quote(EMAIL)} and li%2Btag%40example.com", "li%2Btag%40example.com"),
    (f'GET /s/{TOKEN}?score=5 HTTP/1.1', TOKEN),
    (f"next=%2Fs%2F{TOKEN}", TOKEN),
    (f'{{"token": "{TOKEN}", "score": 5}}', TOKEN),
    (f"/api/v1/answers?token={TOKEN}&score=5", TOKEN),
    (f"looked up {TOKEN}.", TOKEN),
    (f"bad key {KEY}", KEY),
    (f"Authorization: Bearer {KEY}", KEY),
    ("{'Authorization': 'Basic QUMwMDAwOnRlc3QtYXV0aA=='}", "QUMwMDAwOnRlc3QtYXV0aA=="),
    ("retrying with Basic QUMwMDAwOnRlc3QtYXV0aA==", "QUMwMDAwOnRlc3QtYXV0aA=="),
    ("X-Twilio-Signature: bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=", "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA="),
    ("{'X-Twilio-Signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8='}", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ('"POST /twilio/sms HTTP/1.1" 403 "RSOYDt4T1cUTdK1PDd93/VVr8B8="', "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("login with smtp_password=hunter2-mailbox", "hunter2-mailbox"),
    ("{'password': 'correct horse'}", "correct horse"),
    ("AUTH PLAIN AGxpLndlaQBodW50ZXIy", "AGxpLndlaQBodW50ZXIy"),
    ("GET /u/eyJpIjoxLCJjIjoic21zIn0.Zk3Tq9x-abc_DEF HTTP/1.1", "eyJpIjoxLCJjIjoic21zIn0.Zk3Tq9x-abc_DEF"),
    ("webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("postgresql+psycopg://survey:s3cr3t-pw@db.example.com/survey", "s3cr3t-pw"),
    ("redis://:s3cr3t-pw@localhost:6379/0", "s3cr3t-pw"),
])
def test_redact_masks_each_kind(line, secret):
    assert secret in line
    assert secret not in redact(line)


def test_redact_masks_a_registered_secret_of_any_shape():
    register_secret("f00dfacecafe0123456789abcdef4242")
    assert redact("auth failed with f00dfacecafe0123456789abcdef4242") == "auth failed with ***"


@pytest.mark.parametrize("line", [
    "answer recorded: invitation 12345, survey csat-call, channel sms",
    "invitation 42: sms accepted as SM0123456789abcdef0123456789abcdef",
    "invitation 42: sms status sent -> delivered",
    "Task survey.send_invitation[3f2c1d7e-8a9b-4c5d-9e0f-112233445566] succeeded in 0.0123s",
    '  File "/srv/survey_service/answers/service.py", line 278, in record_answer',
    "    task_name = mask_record(ask_question, token)",
    "[2026-12-01 14:57:20 +0000] [4321] [INFO] Listening at: http://127.0.0.1:5000 (4321)",
])
def test_redact_leaves_ordinary_lines_alone(line):
    assert redact(line) == line


# -- records, through any handler -----------------------------------------------------------------


def test_a_traceback_with_personal_data_comes_out_masked_through_a_plain_formatter():
    logs.install()
    logger, stream = _isolated_logger("survey_service.tests.plain")
    try:
        raise ValueError(f"refused {PHONE} for {EMAIL}")
    except ValueError:
        logger.exception("while opening %s", f"/s/{TOKEN}")
    logger.info("stack here", stack_info=True)  # the stack shows this line, and so +8613800138000
    written = stream.getvalue()
    assert "Traceback (most recent call last)" in written and "ValueError: refused +***" in written
    assert "while opening /s/***" in written and "Stack (most recent call last)" in written
    assert_masked(written, PHONE, EMAIL, TOKEN)


def test_a_record_made_without_the_factory_is_masked_by_the_handler_filter():
    logger, stream = _isolated_logger("survey_service.tests.foreign")
    logger.handlers[0].addFilter(logs.RedactingFilter())
    try:
        raise ValueError(f"refused {PHONE}")
    except ValueError as exc:
        record = logging.LogRecord(logger.name, logging.ERROR, __file__, 1, "to %s", (EMAIL,),
                                   (type(exc), exc, exc.__traceback__))
    logger.handle(record)
    assert "ValueError: refused +***" in stream.getvalue()
    assert_masked(stream.getvalue(), PHONE, EMAIL)


def test_the_app_makes_every_record_of_the_process_a_masked_one(app):
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        logs.init_app(app)
        assert logging.getLogRecordFactory() is MaskedLogRecord
    finally:
        logs.install()


# -- requests that fail and succeed ---------------------------------------------------------------


def test_a_database_refusal_on_intake_is_logged_with_its_traceback_masked(client, admin, seeded,
                                                                          monkeypatch, logged):
    def refuse(data):
        raise refused_by_the_database()

    monkeypatch.setattr(interactions, "record_interaction", refuse)
    res = client.post("/api/v1/interactions", json=interaction(), headers=admin)
    assert res.status_code == 500
    written = logged()
    assert "unhandled error on POST /api/v1/interactions" in written
    assert "Traceback" in written and "IntegrityError" in written and "[parameters:" in written
    assert_masked(written, PHONE, NATIONAL, EMAIL, TOKEN, admin["Authorization"].split()[1])


def test_a_failing_signed_sms_webhook_is_logged_masked(app, client, monkeypatch, logged):
    from survey_service.answers import twilio_sms
    from tests.twilio.conftest import sign

    secret = "tw-auth-" + "9f" * 12
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", secret)
    form = {"MessageSid": "SM" + "c" * 32, "From": PHONE, "To": "+15005550006", "Body": f"5 {EMAIL}"}

    def refuse(sid, phone, body):
        raise refused_by_the_database()

    monkeypatch.setattr(twilio_sms, "handle_sms", refuse)
    signature = sign(app.config["PUBLIC_BASE_URL"] + "/twilio/sms", form, secret)
    res = client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
    assert res.status_code == 500
    written = logged()
    assert "unhandled error on POST /twilio/sms" in written and "IntegrityError" in written
    assert_masked(written, PHONE, NATIONAL, EMAIL, TOKEN)


def test_a_failing_web_survey_page_is_logged_without_its_token(client, monkeypatch, logged):
    from survey_service.answers import views

    def refuse(token):
        raise refused_by_the_database()

    monkeypatch.setattr(views, "find_by_token", refuse)
    assert client.get(f"/s/{TOKEN}?score=5").status_code == 500
    written = logged()
    assert "unhandled error on GET /s/***" in written
    assert_masked(written, TOKEN, PHONE, EMAIL)


def test_request_lines_of_the_web_server_are_masked(app, client, admin, seeded, served, logged):
    token = _sent_invitation(app, client, admin)
    assert served(f"/s/{token}?score=5") == 200
    # a forged webhook, its number in the query as Twilio sends it for GET webhooks
    form = f"From={quote(PHONE)}&To=%2B15005550006&Body=5".encode()
    assert served(f"/twilio/sms?From={quote(PHONE)}&Email={quote(EMAIL)}", data=form,
                  headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}) == 403
    # a bad key, sent in the query string as well as the header
    assert served(f"/api/v1/interactions?api_key={KEY}", data=b"{}",
                  headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}) == 401
    written = logged()
    assert "GET /s/***?score=5" in written and "POST /twilio/sms?From=" in written
    assert "/api/v1/interactions?api_key=***" in written
    assert_masked(written, token, PHONE, EMAIL, KEY)


def test_a_database_error_carries_no_statement_parameters(app, logged):
    with app.app_context(), pytest.raises(DataError) as refused:
        db.session.execute(text("SELECT CAST(:phone AS integer)"), {"phone": PHONE})
    message = str(refused.value)
    assert "[SQL parameters hidden" in message and "[parameters:" not in message
    # PostgreSQL itself quotes the value it refused: masking the log is what keeps it out.
    assert PHONE in message
    logging.getLogger("survey_service.tests").error("refused", exc_info=refused.value)
    assert "DataError" in logged() and "value \"+***\" is out of range" in logged()
    assert_masked(logged(), PHONE)


def test_a_failing_celery_task_is_logged_masked(app, monkeypatch, logged):
    import worker.tasks

    def refuse(invitation_id):
        raise refused_by_the_database()

    monkeypatch.setattr(worker.tasks, "deliver", refuse)
    result = worker.tasks.send_invitation.apply(args=(7,))
    assert result.failed()
    written = logged()
    assert "survey.send_invitation" in written and "raised unexpected" in written and "Traceback" in written
    assert_masked(written, PHONE, NATIONAL, EMAIL, TOKEN)


@pytest.mark.parametrize("signal", [signals.after_setup_logger, signals.after_setup_task_logger])
def test_celery_worker_handlers_get_the_filter(signal):
    logger, stream = _isolated_logger("survey_service.tests.celery")
    signal.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None, format="", colorize=False)
    logger.handle(logging.LogRecord(logger.name, logging.ERROR, __file__, 1, "send to %s failed",
                                    (PHONE,), None))
    assert "send to +***" in stream.getvalue()


# -- gunicorn -------------------------------------------------------------------------------------


@pytest.fixture
def gunicorn_logger(tmp_path):
    """GunicornLogger with access and error logs to files, the access line naming headers as well."""
    cfg = Config()
    assert cfg.set("logger_class", "survey_service.logs.GunicornLogger") is None
    assert cfg.logger_class is GunicornLogger  # the class `up` names, as gunicorn loads it
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("access_log_format",
            '%(h)s "%(r)s" %(s)s %(q)s "%({x-twilio-signature}i)s" "%({authorization}i)s"')
    log = cfg.logger_class(cfg)
    yield log, tmp_path
    for logger in (log.error_log, log.access_log):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()


def test_gunicorn_access_and_error_logs_are_masked(gunicorn_logger):
    log, folder = gunicorn_logger
    query = f"token={TOKEN}&From={quote(PHONE)}&email={quote(EMAIL)}"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/s/{TOKEN}?{query}", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": f"/s/{TOKEN}", "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1"}
    req = SimpleNamespace(headers=[("X-TWILIO-SIGNATURE", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
                                   ("AUTHORIZATION", f"Bearer {KEY}")])
    resp = SimpleNamespace(status="200 OK", sent=512, headers=[("Content-Type", "text/html")])
    log.access(resp, req, environ, timedelta(milliseconds=3))
    try:
        raise refused_by_the_database()
    except IntegrityError:
        log.exception("Error handling request %s", environ["RAW_URI"])
    access, error = (folder / "access.log").read_text(), (folder / "error.log").read_text()
    assert '"GET /s/*** HTTP/1.1" 200' in access or '"GET /s/***?' in access
    assert "Error handling request /s/***" in error and "IntegrityError" in error
    assert_masked(access + error, TOKEN, PHONE, NATIONAL, EMAIL, KEY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_gunicorn_handlers_mask_a_record_made_without_the_factory(gunicorn_logger):
    log, folder = gunicorn_logger
    log.error_log.handle(logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1,
                                           "Error handling request /s/%s", (TOKEN,), None))
    log.access_log.handle(logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                                            '"GET /s/%s HTTP/1.1" 200', (TOKEN,), None))
    written = (folder / "error.log").read_text() + (folder / "access.log").read_text()
    assert written.count("/s/***") == 2
    assert_masked(written, TOKEN)
