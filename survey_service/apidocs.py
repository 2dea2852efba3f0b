"""Serves the Swagger UI files from the swagger-ui-bundle package: /api/docs works offline."""

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("apidocs_assets", __name__)


@bp.get("/api/docs-assets/<path:filename>")
def asset(filename):
    """One file of the bundled Swagger UI."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
