"""Configuration: defaults, then SURVEY_* variables typed like their defaults, then the test mapping."""

import pytest
from sqlalchemy import make_url

from survey_service.config import build_config, from_environment


def test_environment_values_take_the_type_of_their_default():
    env = {"SURVEY_SMTP_PORT": "2525", "SURVEY_SWEEP_SECONDS": "1.5", "SURVEY_SMTP_STARTTLS": "yes",
           "SURVEY_MAIL_FROM": "survey@example.com", "SURVEY_UNKNOWN": "x", "OTHER": "y"}
    assert from_environment(env) == {"SMTP_PORT": 2525, "SWEEP_SECONDS": 1.5, "SMTP_STARTTLS": True,
                                     "MAIL_FROM": "survey@example.com"}


def test_a_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="SURVEY_SMTP_PORT"):
        from_environment({"SURVEY_SMTP_PORT": "twenty-five"})


def test_defaults_run_on_one_machine(tmp_path, monkeypatch):
    for name in ("SURVEY_DATABASE_URL", "SURVEY_REDIS_URL", "SURVEY_EMBEDDED_POSTGRES_PORT"):
        monkeypatch.delenv(name, raising=False)
    cfg = build_config(str(tmp_path))
    url = make_url(cfg["SQLALCHEMY_DATABASE_URI"])
    assert (url.drivername, url.username, url.host, url.database) == ("postgresql+psycopg", "postgres",
                                                                       None, "survey")
    assert url.query == {"host": f"{tmp_path}/postgres"}  # the socket in the instance's data directory
    assert cfg["EMBEDDED_POSTGRES_PORT"] is None
    assert cfg["REDIS_URL"] == "redis://127.0.0.1:6390/0"


def test_an_embedded_postgres_port_means_loopback_tcp(tmp_path, monkeypatch):
    monkeypatch.delenv("SURVEY_DATABASE_URL", raising=False)
    monkeypatch.setenv("SURVEY_EMBEDDED_POSTGRES_PORT", "55432")
    cfg = build_config(str(tmp_path))
    assert cfg["EMBEDDED_POSTGRES_PORT"] == 55432
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://postgres@127.0.0.1:55432/survey"


def test_a_long_instance_path_gets_a_short_socket_folder(tmp_path):
    deep = tmp_path / ("d" * 100)
    socket = make_url(build_config(str(deep))["SQLALCHEMY_DATABASE_URI"]).query["host"]
    assert len(f"{socket}/.s.PGSQL.5432".encode()) <= 107
    assert socket == make_url(build_config(str(deep))["SQLALCHEMY_DATABASE_URI"]).query["host"]
    assert socket != make_url(build_config(str(deep) + "x")["SQLALCHEMY_DATABASE_URI"]).query["host"]


def test_postgresql_urls_get_the_installed_driver(tmp_path):
    cfg = build_config(str(tmp_path), {"DATABASE_URL": "postgresql://u:p@db/survey"})
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/survey"
    # No liveness round trip per checkout; psycopg's server-side prepares stay on; no parameters shown.
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_recycle": 1800, "hide_parameters": True, "echo": False}
