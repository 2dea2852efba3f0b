"""Operator endpoints, the OpenAPI document, error shape and migrations matching the models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select

from survey_service.db import Base
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.migrate import alembic_config
from survey_service.surveys.models import Survey


def test_healthz_is_open(client):
    res = client.get("/healthz")
    assert res.status_code == 200 and res.json == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    res = client.get("/readyz")
    assert res.status_code == 200, res.json
    assert res.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_naming_redis_when_it_is_down(client, app):
    old = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    try:
        res = client.get("/readyz")
    finally:
        app.config["REDIS_URL"] = old
    assert res.status_code == 503
    assert res.json["checks"]["redis"] == "unreachable"


def test_openapi_document_lists_the_contract(client):
    spec = client.get("/api/openapi.json").json
    for path in ("/api/v1/interactions", "/api/v1/interactions/batch",
                 "/api/v1/interactions/{source}/{external_id}", "/api/v1/surveys",
                 "/api/v1/surveys/{key}", "/api/v1/answers"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_api_docs_page_and_its_assets_are_served_locally(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "/api/docs-assets/swagger-ui-bundle.js" in html
    assert "http" not in html.split("/api/docs-assets/")[0].rsplit("src=", 1)[-1]
    assert client.get("/api/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_api_path_is_json_and_page_is_html(client):
    res = client.get("/api/v1/nothing")
    assert res.status_code == 404 and res.json["code"] == 404
    page = client.get("/nothing")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_invalid_json_body_is_a_json_error(client, admin):
    res = client.post("/api/v1/interactions", data="{not json", headers={
        **admin, "Content-Type": "application/json"})
    assert res.status_code in (400, 422)
    assert res.json["code"] == res.status_code


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_dashboard_placeholder_links_to_api_docs(client):
    res = client.get("/dashboard")
    assert res.status_code == 200
    assert 'href="/api/docs"' in res.get_data(as_text=True)


@pytest.fixture
def empty_database(new_database):
    """A new, empty database URL, for migrating step by step."""
    return new_database()


def test_wake_times_are_filled_in_for_rows_made_before_them(empty_database):
    """0006 gives existing rows the wake time the sweep needs: open rows soon, final ones never."""
    config = alembic_config(empty_database)
    command.upgrade(config, "0005")
    engine = create_engine(empty_database)
    t = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    rows = {"scheduled": {"due_at": t}, "queued": {"queued_at": t}, "sending": {"sending_at": t},
            "sent": {"expires_at": t}, "delivered": {"expires_at": t}, "answered": {"expires_at": t},
            "suppressed": {}}
    with engine.begin() as conn:
        conn.execute(insert(Survey.__table__).values(id=1, key="k", name="n", metric="csat",
                                                     scale_min=1, scale_max=5))
        for n, (status, times) in enumerate(rows.items()):
            conn.execute(insert(Interaction.__table__).values(
                id=n, source="s", external_id=f"e{n}", type="call", ended_at=t, request_hash="h"))
            conn.execute(insert(Invitation.__table__).values(
                interaction_id=n, survey_id=1, status=status, created_at=t, **times))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        woken = dict(conn.execute(select(Invitation.status, Invitation.wake_at)).all())
    engine.dispose()
    assert woken == {status: (None if status in ("answered", "suppressed") else t) for status in rows}
