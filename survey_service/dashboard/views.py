"""The manager's dashboard (pages grow with the reporting features)."""

from flask import render_template

from survey_service.openapi import Blueprint, page

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", description="The manager's pages.")


@bp.get("")
@bp.doc(responses={"200": page("The dashboard.")})
def index():
    """Landing page with links to the API documentation until the reporting pages exist."""
    return render_template("dashboard/index.html")
