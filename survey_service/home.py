"""The service's front door at `/`: what it is, and links to the API docs and the dashboard."""

from flask import render_template

from survey_service.openapi import Blueprint, page

bp = Blueprint("home", __name__, description="The front door.")


@bp.get("/")
@bp.doc(responses={"200": page("What the service is, with links on.")})
def index():
    """A small landing page, so that a newcomer opening the base URL finds the way on."""
    return render_template("home.html")
