"""Operator endpoints, the OpenAPI document, error shape and migrations matching the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from survey_service.db import Base
from survey_service.extensions import db


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
