"""Configuration: defaults in code, then SURVEY_* environment variables, then a test mapping."""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from survey_service import embedded_db

MIN_SECRET_KEY_LENGTH = 16
MAKE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class ConfigError(ValueError):
    """A setting the service refuses to run with; the message names it and says how to fix it."""


class Defaults:
    """Embedded defaults: everything runs on one machine with no server installed."""

    SECRET_KEY = "dev-only-change-me"
    DATABASE_URL: str | None = None  # None: the embedded PostgreSQL of the instance folder
    EMBEDDED_POSTGRES_PORT: int | None = None  # None: it listens on a unix socket only
    REDIS_URL: str | None = None  # None: the embedded redis-server
    EMBEDDED_REDIS_PORT = 6390  # where `survey-service up` starts it when REDIS_URL is unset
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    SWEEP_SECONDS = 5.0
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_FROM: str | None = None
    TWILIO_API_BASE_URL: str | None = None
    TWILIO_TIMEOUT = 10.0
    RECONCILE_AFTER_SECONDS = 300  # a row this long in `sending` is looked up at the provider
    IVR_GATHER_TIMEOUT = 6
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    SMTP_TIMEOUT = 10.0
    MAIL_FROM = "surveys@localhost"
    BRAND_NAME: str | None = None  # who asks, in emails, SMS and pages; None: the catalog's brand_default
    DEFAULT_REGION = "US"  # for phone numbers written without a country code
    MAX_BODY_BYTES = 1_000_000
    MAX_ATTRIBUTES = 50
    MAX_ATTRIBUTE_BYTES = 1024
    ANSWER_RATE_LIMIT_TOKEN = "10 per minute"
    ANSWER_RATE_LIMIT_ADDRESS = "600 per minute"
    SEND_MAX_RETRIES = 8
    RETRY_BACKOFF_BASE = 2.0
    RETRY_BACKOFF_MAX = 600.0
    SWEEP_BATCH = 500
    SMS_REASON_WINDOW_SECONDS = 3600
    INCENTIVE_CODE_DAYS = 90  # an incentive code can be redeemed this many days after it was earned
    REPORT_TIMEZONES = "UTC,Asia/Shanghai"  # zones whose days the score rollups count; others read slots
    ROLLUP_SECONDS = 60.0  # how often answers are counted into the rollups (reports read the rest raw)
    ROLLUP_BATCH = 50_000  # answers counted per statement
    AGENT_EFFORT_SURVEY = "aes-agent"  # the survey agents answer about their interactions and tasks
    API_KEY_CACHE_SECONDS = 10.0  # how long a process trusts a key it looked up; 0 looks up every call


def _parse(name: str, raw: str):
    """An environment value as the type of its default (numbers, flags), else the string."""
    default = getattr(Defaults, name)
    if default is None and Defaults.__annotations__.get(name, "").startswith("int"):
        default = 0
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int | float):
        try:
            return type(default)(raw)
        except ValueError:
            raise ValueError(f"SURVEY_{name} must be a number, not {raw!r}") from None
    return raw


def from_environment(environ: os._Environ | dict | None = None) -> dict:
    """Read every SURVEY_* variable that names a known setting."""
    environ = os.environ if environ is None else environ
    out = {}
    for name in vars(Defaults):
        if name.startswith("_"):
            continue
        raw = environ.get(f"SURVEY_{name}")
        if raw is None or raw == "":
            continue
        out[name] = _parse(name, raw)
    return out


def build_config(instance_path: str, test_config: dict | None = None) -> dict:
    """Merge defaults, environment and the test mapping into the Flask config."""
    cfg = {k: v for k, v in vars(Defaults).items() if not k.startswith("_")}
    cfg.update(from_environment())
    if test_config:
        cfg.update(test_config)
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = embedded_db.url(instance_path, cfg["EMBEDDED_POSTGRES_PORT"])
    cfg["DATABASE_URL"] = with_driver(cfg["DATABASE_URL"])
    if not cfg["REDIS_URL"]:
        cfg["REDIS_URL"] = f"redis://127.0.0.1:{cfg['EMBEDDED_REDIS_PORT']}/0"
    cfg["PUBLIC_BASE_URL"] = cfg["PUBLIC_BASE_URL"].rstrip("/")
    check_secret_key(cfg)
    # The session cookie carries only the web survey's CSRF token: never read by scripts, not sent
    # on cross-site posts, and over TLS only when the public address is https.
    cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
    cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    cfg.setdefault("SESSION_COOKIE_SECURE", is_https(cfg["PUBLIC_BASE_URL"]))
    cfg["SQLALCHEMY_DATABASE_URI"] = cfg["DATABASE_URL"]
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options()
    cfg["MAX_CONTENT_LENGTH"] = cfg["MAX_BODY_BYTES"]
    cfg.setdefault("API_TITLE", "survey-service")
    cfg.setdefault("API_VERSION", "v1")
    cfg.setdefault("OPENAPI_VERSION", "3.0.3")
    cfg.setdefault("OPENAPI_URL_PREFIX", "/api")
    cfg.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    cfg.setdefault("OPENAPI_SWAGGER_UI_PATH", "/docs")
    cfg.setdefault("OPENAPI_SWAGGER_UI_URL", "/api/docs-assets/")
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", None)
    cfg.setdefault("RATELIMIT_STORAGE_URI", limits_storage_uri(cfg["REDIS_URL"]))
    cfg.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    return cfg


def is_https(public_base_url: str) -> bool:
    """Whether respondents and Twilio reach the service over TLS."""
    return public_base_url.lower().startswith("https://")


def is_development(cfg: dict) -> bool:
    """Tests, or a public address on this machine only (`make run`): the defaults may stand."""
    if cfg.get("TESTING"):
        return True
    host = urlsplit(cfg["PUBLIC_BASE_URL"]).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secret_key(cfg: dict) -> None:
    """Outside development, refuse the default, an empty or a short secret key: it signs CSRF tokens."""
    if is_development(cfg):
        return
    key = cfg.get("SECRET_KEY") or ""
    if key == Defaults.SECRET_KEY:
        problem = "is the development default"
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        problem = f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    else:
        return
    raise ConfigError(f"SURVEY_SECRET_KEY {problem}, and the public address {cfg['PUBLIC_BASE_URL']} "
                      f"is not this machine: set it to a long random value, made for instance with "
                      f"{MAKE_SECRET_KEY}")


def engine_options() -> dict:
    """PostgreSQL options: no per-request liveness checks, server-side prepares left on.

    psycopg prepares a statement on the server after its fifth use on a connection: PostgreSQL then
    skips parsing and, once its generic plan costs no more than the custom ones, planning too
    (planning the intake look-up took 0.9 ms against 0.2 ms to run it). The hot statements are
    equalities on indexed columns, so their generic plans are index scans.
    No pool_pre_ping (a round trip on every request): a dropped connection fails one request,
    SQLAlchemy then discards the whole pool, and connections are recycled every 30 minutes.
    No statement parameters in errors or logs (phone numbers, emails), and no statement echo.
    """
    return {"pool_recycle": 1800, "hide_parameters": True, "echo": False}


def limits_storage_uri(redis_url: str) -> str:
    """The rate limiter's name for the same Redis (it spells unix sockets redis+unix://)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def with_driver(url: str) -> str:
    """postgresql:// and postgres:// URLs use psycopg 3, the driver the service installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
