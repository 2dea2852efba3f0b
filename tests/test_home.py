"""The base URL answers with a landing page that leads to the API docs and the dashboard."""


def test_root_links_the_api_docs_and_the_dashboard(client):
    res = client.get("/")
    assert res.status_code == 200 and res.content_type.startswith("text/html")
    html = res.get_data(as_text=True)
    for link in ('href="/api/docs"', 'href="/api/openapi.json"', 'href="/dashboard"', 'href="/healthz"'):
        assert link in html
    for link in ("/api/docs", "/api/openapi.json", "/dashboard", "/healthz"):
        assert client.get(link).status_code == 200
