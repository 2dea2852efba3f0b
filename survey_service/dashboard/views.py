"""The manager's dashboard (pages grow with the reporting features)."""

from flask import Blueprint, render_template

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.get("")
def index():
    """Landing page with links to the API documentation until the reporting pages exist."""
    return render_template("dashboard/index.html")
