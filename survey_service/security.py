"""Response headers against hostile pages and networks: CSP, no sniffing, HSTS, uncached surveys."""

from __future__ import annotations

from flask import request

from survey_service.config import is_https

# Scripts and styles come from our own files only (survey_service/static, the bundled Swagger UI):
# an injected <script> or style= never runs, and no other site may frame a page or receive its form.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
PAGE_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    # A survey link carries its token: no page sends its address on to another site.
    ("Referrer-Policy", "no-referrer"),
)
PERSONAL_PREFIXES = ("/s/", "/u/")  # survey and unsubscribe links: the token in the path is a credential


def init_app(app) -> None:
    """Add the headers to every response: cheap assignments, decided once from the configuration."""
    hsts = HSTS if is_https(app.config["PUBLIC_BASE_URL"]) else None

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.add("X-Content-Type-Options", "nosniff")  # no view sets these two: add, not replace
        if hsts:
            headers.add("Strict-Transport-Security", hsts)
        if response.content_type.startswith("text/html"):  # a string test, not a header parse
            for name, value in PAGE_HEADERS:
                headers[name] = value
        if request.path.startswith(PERSONAL_PREFIXES):
            # A survey page (or its 404, 410, 422, 429) is personal: no shared or back-button copy.
            headers["Cache-Control"] = "no-store"
        return response
