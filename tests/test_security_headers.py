"""Hardened pages: CSP and framing headers on every page, nosniff everywhere, HSTS over https, no
cached survey pages, session cookie attributes, the secret key refused outside development, the
survey page rate-limited, and the pages working under their CSP in a real browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from datetime import timedelta

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from survey_service import create_app
from survey_service.cli import main
from survey_service.config import ConfigError, Defaults, build_config
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from survey_service.security import CONTENT_SECURITY_POLICY, HSTS
from tests.answers.test_web import csrf_of
from tests.conftest import _config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.I)


def assert_page(res, status: int, survey: bool = False) -> None:
    """A page for people: its CSP, no framing, no referrer, no sniffing, HSTS, and no inline code."""
    assert res.status_code == status
    assert res.mimetype == "text/html"
    headers = res.headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"] == HSTS
    if survey:
        assert headers["Cache-Control"] == "no-store"
    html = res.get_data(as_text=True)
    assert not INLINE_SCRIPT.search(html), "inline <script> would be refused by script-src 'self'"
    assert not INLINE_STYLE.search(html), "inline styles would be refused by style-src 'self'"


def assert_machine(res, status: int) -> None:
    """A JSON or XML answer: nosniff and HSTS, none of the page headers."""
    assert res.status_code == status
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Strict-Transport-Security"] == HSTS
    assert "Content-Security-Policy" not in res.headers
    assert "X-Frame-Options" not in res.headers


@pytest.fixture
def other_app(app, pg_url, redis_url, tmp_path):
    """Build a second app on the same database with config changes; the limiter goes back after."""
    from survey_service.extensions import limiter

    def make(**changes):
        return create_app(_config(pg_url, redis_url, str(tmp_path)) | changes)

    yield make
    limiter._storage, limiter._limiter = app.limiter_state


# -- headers on every kind of page ----------------------------------------------------------------


def test_every_survey_page_carries_the_page_headers(client, sent, app):
    token, _ = sent(locale="en")
    shown = client.get(f"/s/{token}")
    assert_page(shown, 200, survey=True)
    csrf = csrf_of(shown.get_data(as_text=True))
    assert_page(client.post(f"/s/{token}", data={"csrf_token": csrf}), 422, survey=True)
    thanks = client.post(f"/s/{token}", data={"csrf_token": csrf, "score": "5"}, follow_redirects=True)
    assert_page(thanks, 200, survey=True)
    assert "Thank you" in thanks.get_data(as_text=True)
    assert_page(client.post(f"/s/{token}", data={"csrf_token": csrf, "score": "4"}), 409, survey=True)
    assert_page(client.get(f"/s/{token}"), 409, survey=True)
    assert_page(client.get("/s/no-such-token"), 404, survey=True)
    assert_page(client.post("/s/no-such-token", data={"csrf_token": csrf, "score": "5"}), 404, survey=True)
    assert_page(client.get(f"/s/{token}/more"), 404, survey=True)

    expired, inv_id = sent(external_id="call-2", locale="en")
    with app.app_context():
        db.session.get(Invitation, inv_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert_page(client.get(f"/s/{expired}"), 410, survey=True)


@pytest.mark.parametrize("path, status", [("/", 200), ("/dashboard", 200), ("/api/docs", 200),
                                          ("/no-such-page", 404)])
def test_every_other_page_carries_the_page_headers(client, path, status):
    res = client.get(path)
    assert_page(res, status)
    assert "no-store" not in res.headers.get("Cache-Control", "")


def test_the_api_docs_start_from_a_static_script(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert 'src="/static/swagger-init.js"' in html
    assert 'data-spec-url="/api/openapi.json"' in html
    script = client.get("/static/swagger-init.js")
    assert script.status_code == 200 and script.mimetype in {"text/javascript", "application/javascript"}
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "SwaggerUIBundle" in script.get_data(as_text=True)


def test_json_and_twiml_answers_get_nosniff_and_no_page_headers(client, seeded):
    assert_machine(client.get("/healthz"), 200)
    assert_machine(client.get("/api/openapi.json"), 200)
    assert_machine(client.post("/api/v1/answers", json={"token": "nope", "score": 5}), 404)
    assert_machine(client.get("/api/v1/surveys"), 401)
    assert_machine(client.post("/twilio/sms", data={"Body": "5"}), 403)


def test_hsts_only_when_the_public_address_is_https(client, other_app):
    assert client.get("/healthz").headers["Strict-Transport-Security"] == HSTS
    plain = other_app(PUBLIC_BASE_URL="http://surveys.example.com").test_client()
    for path in ("/healthz", "/", "/s/no-such-token"):
        res = plain.get(path)
        assert "Strict-Transport-Security" not in res.headers
        assert res.headers["X-Content-Type-Options"] == "nosniff"


# -- the session cookie ---------------------------------------------------------------------------


def _session_cookie(res) -> list[str]:
    [cookie] = [c for c in res.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return [part.strip() for part in cookie.split(";")]


def test_session_cookie_is_httponly_lax_and_secure_over_https(client, sent, other_app):
    token, _ = sent()
    attributes = _session_cookie(client.get(f"/s/{token}"))
    assert {"HttpOnly", "SameSite=Lax", "Secure"} <= set(attributes)

    plain = other_app(PUBLIC_BASE_URL="http://surveys.example.com").test_client()
    attributes = _session_cookie(plain.get(f"/s/{token}"))
    assert {"HttpOnly", "SameSite=Lax"} <= set(attributes)
    assert "Secure" not in attributes


# -- the secret key -------------------------------------------------------------------------------


@pytest.fixture
def no_secret_in_env(monkeypatch):
    for name in ("SURVEY_SECRET_KEY", "SURVEY_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("key", [Defaults.SECRET_KEY, "", "short-key-15chr"])
def test_outside_development_a_default_or_short_secret_key_is_refused(tmp_path, no_secret_in_env, key):
    with pytest.raises(ConfigError, match="SURVEY_SECRET_KEY") as refused:
        build_config(str(tmp_path), {"PUBLIC_BASE_URL": "https://surveys.example.com", "SECRET_KEY": key})
    assert "secrets.token_urlsafe(32)" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("public", ["http://127.0.0.1:5000", "http://localhost:8000", "http://[::1]:5000",
                                    "http://127.0.0.2"])
def test_on_this_machine_the_default_secret_key_stands(tmp_path, no_secret_in_env, public):
    cfg = build_config(str(tmp_path), {"PUBLIC_BASE_URL": public})
    assert cfg["SECRET_KEY"] == Defaults.SECRET_KEY


def test_tests_and_a_long_key_pass(tmp_path, no_secret_in_env):
    build_config(str(tmp_path), {"PUBLIC_BASE_URL": "https://surveys.example.com", "TESTING": True})
    build_config(str(tmp_path), {"PUBLIC_BASE_URL": "https://surveys.example.com",
                                 "SECRET_KEY": "k" * 16})


def test_create_app_refuses_the_default_key_for_a_public_address(other_app, no_secret_in_env):
    with pytest.raises(ConfigError, match="SURVEY_SECRET_KEY"):
        other_app(TESTING=False, SECRET_KEY=Defaults.SECRET_KEY, PUBLIC_BASE_URL="https://surveys.example.com")
    started = other_app(TESTING=False, SECRET_KEY=Defaults.SECRET_KEY, PUBLIC_BASE_URL="http://127.0.0.1:5000")
    assert started.test_client().get("/healthz").status_code == 200


def test_up_names_the_secret_key_in_one_line_and_exits_non_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("SURVEY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SURVEY_PUBLIC_BASE_URL", "https://surveys.example.com")
    monkeypatch.delenv("SURVEY_SECRET_KEY", raising=False)
    result = CliRunner().invoke(main, ["up", "--port", "1"])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: SURVEY_SECRET_KEY")
    assert "Traceback" not in result.output


# -- the survey page's rate limit -----------------------------------------------------------------


def test_survey_page_is_limited_per_token_with_a_page_for_people(client, sent, app):
    token, _ = sent(locale="en")
    limit = int(app.config["ANSWER_RATE_LIMIT_TOKEN"].split()[0])
    address = {"REMOTE_ADDR": "203.0.113.10"}
    pages = [client.get(f"/s/{token}", environ_base=address) for _ in range(limit + 1)]
    assert [p.status_code for p in pages[:limit]] == [200] * limit
    refused = pages[-1]
    assert_page(refused, 429, survey=True)
    html = refused.get_data(as_text=True)
    assert "/static/survey.css" in html and "Too many attempts" in html
    # Looking spends the page's budget, not the answer's.
    csrf = csrf_of(pages[0].get_data(as_text=True))
    answered = client.post(f"/s/{token}", data={"csrf_token": csrf, "score": "5"}, environ_base=address)
    assert answered.status_code == 303


def test_survey_page_is_limited_per_address(client, app):
    app.config["ANSWER_RATE_LIMIT_ADDRESS"] = "3 per minute"
    try:
        address = {"REMOTE_ADDR": "203.0.113.11"}
        codes = [client.get(f"/s/unknown-{n}", environ_base=address).status_code for n in range(4)]
        assert codes == [404, 404, 404, 429]
        assert client.get("/s/unknown-9", environ_base={"REMOTE_ADDR": "203.0.113.12"}).status_code == 404
    finally:
        app.config["ANSWER_RATE_LIMIT_ADDRESS"] = Defaults.ANSWER_RATE_LIMIT_ADDRESS


# -- in a real browser ----------------------------------------------------------------------------


@pytest.fixture
def live_url(app):
    """The session app served on loopback, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=10)


def chromium(url: str, *args: str, width: int = 1280) -> subprocess.CompletedProcess:
    """Headless Chromium on one page, with the page's console messages on stderr."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size={width},800",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *args, url],
            capture_output=True, text=True, timeout=120, check=True)


def csp_violations(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if "Content Security Policy" in line]


def pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    """The RGB colour of one pixel of an 8-bit RGB or RGBA PNG, such as Chromium's screenshots."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, _height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", data)
            assert depth == 8 and colour in (2, 6) and not interlace
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(idat)
    prev = bytearray(stride)
    for row in range(y + 1):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        prev = line
    return tuple(prev[x * bpp:x * bpp + 3])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_pages_work_under_their_csp_in_chromium(live_url, sent, tmp_path):
    token, _ = sent(locale="en")
    survey = chromium(f"{live_url}/s/{token}?score=4", "--dump-dom", width=390)
    assert csp_violations(survey) == []
    assert 'name="score"' in survey.stdout and "csrf_token" in survey.stdout

    shot = tmp_path / "survey.png"
    run = chromium(f"{live_url}/s/{token}", f"--screenshot={shot}")
    assert csp_violations(run) == []
    png = shot.read_bytes()
    assert pixel(png, 5, 5) == (0xF4, 0xF5, 0xF7)  # survey.css's page background, outside the card
    assert pixel(png, 640, 40) == (0xFF, 0xFF, 0xFF)  # the card

    docs = chromium(f"{live_url}/api/docs", "--dump-dom")
    assert csp_violations(docs) == []
    assert "/api/v1/interactions" in docs.stdout and "opblock" in docs.stdout  # Swagger UI ran

    for path in ("/", "/dashboard", "/no-such-page"):
        assert csp_violations(chromium(f"{live_url}{path}", "--dump-dom")) == []
