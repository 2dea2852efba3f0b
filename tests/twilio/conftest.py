"""A loopback server that speaks Twilio's Messages and Calls API, and signed webhook helpers."""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from twilio.request_validator import RequestValidator

from survey_service.db import utcnow
from survey_service.delivery.service import send_invitation
from survey_service.extensions import db
from survey_service.invitations import service as invitations
from survey_service.invitations.models import Invitation
from tests.conftest import interaction

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM = "+15005550006"
PUBLIC = "https://surveys.example.com"
_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/(?P<kind>Messages|Calls)"
                   r"(?:/(?P<sid>\w+))?\.json$")


class FakeTwilio:
    """Records what it was sent; `fail_next(n, status, code)` answers errors for the next n requests."""

    def __init__(self):
        self.requests: list[dict] = []
        self.resources: dict[str, dict] = {}
        self.failures: list[tuple[int, int | None]] = []
        self.lock = threading.Lock()

    def fail_next(self, n: int, status: int, code: int | None = None) -> None:
        self.failures.extend([(status, code)] * n)

    @property
    def messages(self) -> list[dict]:
        return [r for r in self.resources.values() if r["sid"].startswith("SM")]

    @property
    def calls(self) -> list[dict]:
        return [r for r in self.resources.values() if r["sid"].startswith("CA")]

    def handle(self, method: str, path: str, form: dict, auth: str | None) -> tuple[int, dict]:
        match = _PATH.match(path)
        if not match or match["account"] != ACCOUNT_SID:
            return 404, error(20404, "The requested resource was not found", 404)
        if not auth:
            return 401, error(20003, "Authenticate", 401)
        with self.lock:
            self.requests.append({"method": method, "path": path, "form": form})
            if self.failures:
                status, code = self.failures.pop(0)
                return status, error(code, "refused by the test", status)
            if method == "GET":
                found = self.resources.get(match["sid"] or "")
                return (200, found) if found else (404, error(20404, "not found", 404))
            return self.create(match["kind"], form)

    def create(self, kind: str, form: dict) -> tuple[int, dict]:
        required = ("To", "From", "Body") if kind == "Messages" else ("To", "From", "Url")
        missing = [f for f in required if not form.get(f)]
        if missing:
            return 400, error(21604, f"A '{missing[0]}' parameter is required.", 400)
        prefix = "SM" if kind == "Messages" else "CA"
        sid = prefix + uuid.uuid4().hex
        resource = {"sid": sid, "account_sid": ACCOUNT_SID, "to": form["To"], "from": form["From"],
                    "status": "queued", "error_code": None, "body": form.get("Body"),
                    "url": form.get("Url"), "status_callback": form.get("StatusCallback"),
                    "status_callback_event": form.get("StatusCallbackEvent"),
                    "direction": "outbound-api", "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/{kind}/{sid}.json"}
        self.resources[sid] = resource
        return 201, resource


def error(code: int | None, message: str, status: int) -> dict:
    return {"code": code, "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: (v if len(v) > 1 else v[0]) for k, v in parse_qs(raw).items()}
            path = self.path.split("?", 1)[0]
            status, body = fake.handle(method, path, form, self.headers.get("Authorization"))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):
            self._serve("POST")

        def do_GET(self):
            self._serve("GET")

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def twilio_api(app):
    """The fake Twilio on 127.0.0.1 with a random port; the app's Twilio settings point at it."""
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    keys = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_API_BASE_URL",
            "PUBLIC_BASE_URL")
    old = {k: app.config.get(k) for k in keys}
    app.config.update(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FROM=FROM,
                      TWILIO_API_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}",
                      PUBLIC_BASE_URL=PUBLIC)
    app.extensions.pop("survey_channels", None)
    fake.base_url = app.config["TWILIO_API_BASE_URL"]
    yield fake
    app.config.update(old)
    app.extensions.pop("survey_channels", None)
    server.shutdown()
    server.server_close()


def sign(url: str, form: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


@pytest.fixture
def webhook(client, twilio_api):
    """POST a webhook signed the way Twilio signs it: for the public URL, with the form as sent."""

    def post(path: str, form: dict, query: str = "", signature: str | None = None):
        url = PUBLIC + path + (f"?{query}" if query else "")
        headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, form)}
        return client.post(path + (f"?{query}" if query else ""), data=form, headers=headers)

    return post


@pytest.fixture
def sms_surveys(client, admin, seeded):
    """The seeded surveys, with csat-call sent at once, at any hour, to the same number often."""
    res = client.patch("/api/v1/surveys/csat-call", headers=admin,
                       json={"delay_seconds": 1, "quiet_hours": None, "throttle_days": 0,
                             "reminder": None})
    assert res.status_code == 200, res.json


def intake(client, admin, external_id: str = "call-1", **customer) -> int:
    """A call interaction through the API; returns its csat-call invitation id."""
    person = {"id": "c-1", "phone": "+8613800138000", "locale": "zh-Hans"} | customer
    res = client.post("/api/v1/interactions", headers=admin,
                      json=interaction(external_id=external_id, customer=person))
    assert res.status_code == 201, res.json
    [inv] = [i for i in res.json["invitations"] if i["survey"] == "csat-call"]
    return inv["id"]


def deliver(app, inv_id: int) -> str:
    """Make the invitation due, claim it as the sweep does, and run the send task's body."""
    with app.app_context():
        row = db.session.get(Invitation, inv_id)
        row.due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        invitations.wake_due()
        db.session.commit()
        return send_invitation(inv_id)


def stored_invitation(app, inv_id: int) -> Invitation:
    """The invitation row as stored now, detached from its session."""
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        db.session.expunge(inv)
        return inv


def sent_invitation(app, client, admin, external_id="call-1", **customer) -> int:
    """An SMS invitation that the fake Twilio accepted."""
    inv_id = intake(client, admin, external_id, **customer)
    assert deliver(app, inv_id) == "sent"
    return inv_id
