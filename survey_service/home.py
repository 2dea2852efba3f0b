"""The service's front door at `/`: what it is, and links to the API docs and the dashboard."""

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """A small landing page, so that a newcomer opening the base URL finds the way on."""
    return render_template("home.html")
