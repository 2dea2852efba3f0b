"""The OpenAPI document: valid, complete (every route), every error with its schema, constraints stated."""

from __future__ import annotations

import re

import pytest
import schemathesis

# The document's own routes, and the files the docs page loads.
UNDOCUMENTED = {"static", "apidocs_assets.asset", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}
_CONVERTER = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")


@pytest.fixture
def document(client):
    res = client.get("/api/openapi.json")
    assert res.status_code == 200
    return res.get_json()


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_the_document_is_valid_openapi(app):
    schemathesis.openapi.from_wsgi("/api/openapi.json", app).validate()


def test_every_route_is_in_the_document(app, document):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, missing
    for required in ("/s/{token}", "/twilio/sms", "/twilio/sms/status", "/twilio/voice/status",
                     "/healthz", "/readyz"):
        assert required in document["paths"]


def test_every_error_answer_is_documented_with_its_shape(document):
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "default" not in responses, (method, path)  # each status is named, none caught all
        for code, response in responses.items():
            if int(code) < 400:
                continue
            if "$ref" in response:
                name = response["$ref"].rsplit("/", 1)[1]
                response = document["components"]["responses"][name]
            content = response.get("content")
            assert content, (method, path, code)
            if "application/json" in content and (path, code) != ("/readyz", "503"):  # its checks
                assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize(("path", "method", "codes"), [
    ("/api/v1/interactions", "post", {"400", "401", "403", "409", "413", "415", "422"}),
    ("/api/v1/surveys/{key}", "patch", {"400", "401", "403", "404", "413", "415", "422"}),
    ("/api/v1/answers", "post", {"400", "404", "409", "410", "413", "415", "422", "429"}),
    ("/api/v1/scores", "get", {"401", "403", "404", "422"}),
    ("/s/{token}", "get", {"404", "409", "410", "429"}),
    ("/s/{token}", "post", {"400", "404", "409", "410", "413", "422", "429"}),
    ("/twilio/sms", "post", {"400", "403", "413"}),
    ("/readyz", "get", {"503"}),
])
def test_operations_list_the_errors_they_answer(document, path, method, codes):
    assert codes <= set(document["paths"][path][method]["responses"])


def test_errors_are_one_shape(document):
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status"}
    assert set(error["properties"]) == {"code", "status", "message", "errors"}


def _numbers_are_numbers(node, where=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"):
                assert isinstance(value, int | float) and not isinstance(value, bool), (where, key, value)
            _numbers_are_numbers(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _numbers_are_numbers(value, f"{where}/{i}")


def test_bounds_are_numbers(document):
    _numbers_are_numbers(document)
    amount = document["components"]["schemas"]["Order"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (0, 10**12)


def test_the_constraints_the_api_enforces_are_stated(document):
    schemas = document["components"]["schemas"]
    zone = schemas["Customer"]["properties"]["timezone"]
    assert "Asia/Shanghai" in zone["enum"] and "Mars/Olympus" not in zone["enum"]
    assert "Asia/Shanghai" in schemas["Survey"]["properties"]["timezone"]["enum"]
    quiet = schemas["QuietHours"]["properties"]
    assert re.fullmatch(quiet["start"]["pattern"], "21:00")
    assert not re.fullmatch(quiet["end"]["pattern"], "24:00")
    assert schemas["Interaction"]["properties"]["ended_at"]["format"] == "date-time"
    assert "CNY" in schemas["Order"]["properties"]["currency"]["enum"]
    assert re.fullmatch(schemas["Customer"]["properties"]["locale"]["pattern"], "zh-Hans")
    assert schemas["AnswerIn"]["properties"]["score"]["maximum"] == 100
