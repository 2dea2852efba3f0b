"""Unsubscribe links (RFC 8058): the email's headers, the page, its form and the one-click POST."""

from __future__ import annotations

import re

import pytest
from itsdangerous import URLSafeSerializer

from survey_service.delivery.service import send_invitation
from survey_service.extensions import db
from survey_service.invitations.models import OptOut
from survey_service.invitations.sweeper import sweep
from survey_service.invitations.unsubscribe import unsubscribe_url
from tests.conftest import interaction
from tests.invitations.conftest import EMAIL

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _link(app, inv_id) -> str:
    with app.app_context():
        return unsubscribe_url(inv_id, "email").removeprefix(app.config["PUBLIC_BASE_URL"])


def _csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def _opt_outs(app) -> list[tuple]:
    with app.app_context():
        return [(o.channel, o.address, o.reason) for o in db.session.query(OptOut).order_by(OptOut.id)]


def test_every_email_names_its_unsubscribe_link_for_one_click(app, client, smtp, email_invitation):
    inv_id = email_invitation()
    with app.app_context():
        sweep(lambda ids: None)
        assert send_invitation(inv_id) == "sent"
    [mail] = smtp.messages
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://surveys\.example\.com(/u/[^>]+))>", mail["List-Unsubscribe"].strip())
    assert link, mail["List-Unsubscribe"]
    assert EMAIL not in link.group(1) and "li.wei" not in link.group(1)
    # What a mail provider does with it: a POST with the fixed body, no cookie, no CSRF token.
    res = app.test_client().post(link.group(2), data=ONE_CLICK)
    assert res.status_code == 200
    assert _opt_outs(app) == [("email", EMAIL, "unsubscribe")]


def test_get_shows_one_button_in_the_respondents_language_and_changes_nothing(app, client,
                                                                              email_invitation):
    link = _link(app, email_invitation(locale="zh-Hant"))
    page = client.get(link)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "退訂問卷郵件" in html and html.count("<button") == 1 and 'lang="zh-Hant"' in html
    assert EMAIL not in html
    assert "Unsubscribe" in client.get(f"{link}?lang=en").get_data(as_text=True)
    assert "退订问卷邮件" in client.get(f"{link}?lang=zh-Hans").get_data(as_text=True)
    client.head(link)
    assert _opt_outs(app) == []
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_the_pages_button_opts_out_once_and_confirms(app, client, email_invitation):
    link = _link(app, email_invitation(locale="zh-Hans"))
    page = client.get(link)
    done = client.post(link, data={"csrf_token": _csrf(page)})
    assert done.status_code == 200 and "您已成功退订" in done.get_data(as_text=True)
    again = client.post(link, data={"csrf_token": _csrf(page)})
    assert again.status_code == 200
    assert _opt_outs(app) == [("email", EMAIL, "unsubscribe")]
    # Once done, the page says so instead of offering the button again.
    shown = client.get(link).get_data(as_text=True)
    assert "您已成功退订" in shown and "<button" not in shown


@pytest.mark.parametrize("data", [{}, {"csrf_token": "forged"}, {"List-Unsubscribe": "Yes"},
                                  {"List-Unsubscribe": "One-Click", "csrf_token": "forged"}])
def test_a_post_that_is_neither_the_form_nor_one_click_is_refused(app, client, email_invitation,
                                                                  data):
    link = _link(app, email_invitation())
    client.get(link)  # a session cookie, as a browser has
    res = client.post(link, data=data)
    assert res.status_code == 400 and res.mimetype == "text/html"
    assert _opt_outs(app) == []


def test_one_click_is_idempotent_and_the_address_is_then_suppressed(app, client, admin,
                                                                    email_invitation):
    link = _link(app, email_invitation())
    assert client.post(link, data=ONE_CLICK).status_code == 200
    assert client.post(link, data=ONE_CLICK).status_code == 200
    assert _opt_outs(app) == [("email", EMAIL, "unsubscribe")]
    res = client.post("/api/v1/interactions", headers=admin, json=interaction(
        external_id="chat-2", type="chat", customer={"id": "c-1", "email": EMAIL}))
    assert [(i["status"], i["suppressed_reason"]) for i in res.json["invitations"]] == [
        ("suppressed", "opted_out")]


def test_forged_tampered_or_unknown_links_find_nothing(app, client, email_invitation):
    inv_id = email_invitation()
    link = _link(app, inv_id)
    forged = URLSafeSerializer("another-secret", salt="unsubscribe").dumps([inv_id, "email"])
    with app.app_context():
        unknown = unsubscribe_url(inv_id + 1000, "email").rsplit("/", 1)[1]
        wrong_kind = URLSafeSerializer(app.config["SECRET_KEY"], salt="unsubscribe").dumps(
            ["1", "fax"])
    for path in (f"/u/{forged}", link[:-2], f"/u/{unknown}", f"/u/{wrong_kind}", "/u/x", "/u/" + "a" * 300):
        assert client.get(path).status_code == 404, path
        assert client.post(path, data=ONE_CLICK).status_code == 404, path
    assert _opt_outs(app) == []


def test_the_page_is_rate_limited_per_link(app, client, email_invitation):
    from survey_service.extensions import limiter

    link = _link(app, email_invitation())
    limiter.reset()  # other tests use the same link (the ids start again at 1)
    try:
        limit = int(app.config["ANSWER_RATE_LIMIT_TOKEN"].split()[0])
        statuses = [client.get(link).status_code for _ in range(limit + 1)]
        assert statuses[:limit] == [200] * limit and statuses[-1] == 429
        assert client.post(link, data=ONE_CLICK).status_code == 200  # the POST counts on its own
    finally:
        limiter.reset()
