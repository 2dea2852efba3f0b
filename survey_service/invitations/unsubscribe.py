"""Unsubscribe links (RFC 8058): /u/<token> shows one button; its POST, or a mail provider's
one-click POST, puts the address on the channel's opt-out list.

The token is the invitation's id and channel signed with SECRET_KEY (itsdangerous): it cannot be
forged, it names no person (the address is looked up when the link is used), and it needs no
storage. Once the customer is erased the invitation names no address and the link finds nothing.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from itsdangerous import BadData, URLSafeSerializer
from marshmallow import Schema, fields

from survey_service.answers.limits import answer_limits
from survey_service.extensions import csrf, db
from survey_service.i18n import normalize_locale
from survey_service.invitations.models import Invitation
from survey_service.invitations.policy import CHANNEL_ADDRESS
from survey_service.invitations.service import find_opt_out, opt_out
from survey_service.openapi import Blueprint, form_body, page

_SALT = "unsubscribe"
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's POST body


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def unsubscribe_url(invitation_id: int, channel: str) -> str:
    """The public link that opts this invitation's address out of `channel`."""
    token = _signer().dumps([invitation_id, channel])
    return f"{current_app.config['PUBLIC_BASE_URL']}/u/{token}"


def read_token(token: str) -> tuple[Invitation, str, str] | None:
    """(invitation, channel, address) a genuine token names, or None (forged, malformed, erased)."""
    if not token or len(token) > 200:
        return None
    try:
        invitation_id, channel = _signer().loads(token)
    except (BadData, TypeError, ValueError):
        return None
    if not isinstance(invitation_id, int) or channel not in CHANNEL_ADDRESS:
        return None
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return None
    # The address the message went to: the customer's for that channel, even if the invitation
    # moved on to another channel since.
    customer = inv.interaction
    address = getattr(customer, f"customer_{CHANNEL_ADDRESS[channel]}", None) if customer else None
    return (inv, channel, address) if address else None


bp = Blueprint("unsubscribe", __name__, url_prefix="/u",
               description="Unsubscribe links from invitation emails: the token is the credential.")
_LANG = {"in": "query", "name": "lang", "description": "Show the page in this language.",
         "schema": {"type": "string", "enum": ["en", "zh-Hans", "zh-Hant"]}}
_ERRORS = {"404": page("No address has this link."), "429": page("Too many attempts; try again later.")}


class UnsubscribeForm(Schema):
    """The page's button (with its CSRF token), or a mail provider's one-click POST (RFC 8058)."""

    csrf_token = fields.String(metadata={"description": "The page's form sends it; one-click does not."})
    List_Unsubscribe = fields.String(data_key="List-Unsubscribe", metadata={"example": "One-Click"})


def _open(token: str):
    found = read_token(token)
    if found is None:
        abort(404)
    inv, channel, address = found
    return channel, address, normalize_locale(request.args.get("lang") or inv.locale)


_show_per_token, _show_per_address = answer_limits(methods=("GET", "HEAD"))


@bp.get("/<token>")
@bp.doc(parameters=[_LANG], responses={"200": page("The button, or the confirmation if done."),
                                       **_ERRORS})
@_show_per_token
@_show_per_address
def show(token):
    """Ask before unsubscribing; changes nothing (mail scanners follow links)."""
    channel, address, locale = _open(token)
    done = find_opt_out(channel, address) is not None
    return render_template("web/unsubscribe.html", locale=locale, done=done)


_per_token, _per_address = answer_limits()


def is_one_click() -> bool:
    """A mail provider's RFC 8058 POST: its fixed body, no CSRF token (it has no page or cookie)."""
    form = request.form
    return form.get(ONE_CLICK[0]) == ONE_CLICK[1] and "csrf_token" not in form


@bp.post("/<token>")
@bp.doc(parameters=[_LANG], requestBody=form_body(UnsubscribeForm),
        responses={"200": page("Unsubscribed (also when already so)."),
                   "400": page("Neither one-click nor the page's form with its CSRF token."),
                   **_ERRORS})
@csrf.exempt  # the one-click POST carries no CSRF token; the page's form is checked below
@_per_token
@_per_address
def submit(token):
    """Put the address on the channel's opt-out list (idempotent)."""
    channel, address, locale = _open(token)
    if not is_one_click() and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # a 400 page without the page's token
    opt_out(channel, address, reason="unsubscribe")
    db.session.commit()
    return render_template("web/unsubscribe.html", locale=locale, done=True)
