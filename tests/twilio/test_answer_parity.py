"""Every way of answering stores the same row: web form, JSON API, SMS reply and IVR keypress.

For each anonymity mode, asked or not, and each scale, an answer by each path is compared with the
row DESIGN 5 describes; a path that breaks a rule of anonymity or refusal fails here.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey_service.answers.models import Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.invitations.tokens import new_token
from tests.twilio.conftest import sent_invitation

PATHS = ["web", "json", "sms", "ivr"]
MODES = ["optional", "always", "never"]
SCALES = {"1-5": ({"min": 1, "max": 5}, 4), "yes-no": ({"min": 0, "max": 1}, 1)}
# The phone survey offers its anonymity key only when the survey leaves anonymity optional.
CASES = [pytest.param(path, anonymity, asked, scale,
                      id=f"{path}-{anonymity}-{'asked' if asked else 'not-asked'}-{scale}")
         for path in PATHS for anonymity in MODES for asked in (False, True) for scale in SCALES
         if not (path == "ivr" and asked and anonymity != "optional")]
PHONE = "+8613800138000"


def _survey(client, admin, anonymity: str, scale: dict, channels: list[str]) -> None:
    labels = {str(p): f"point {p}" for p in range(scale["min"], scale["max"] + 1)}
    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={
        "anonymity": anonymity, "scale": scale, "positive_min": scale["max"], "channels": channels,
        "texts": {"en": {"question": "How did it go?", "labels": labels}}})
    assert res.status_code == 200, res.json


def _web_token(app, inv_id: int) -> str:
    """A fresh token for the invitation, as the email or SMS link would carry."""
    token, token_hash = new_token()
    with app.app_context():
        db.session.get(Invitation, inv_id).token_hash = token_hash
        db.session.commit()
    return token


def answer(path: str, score: int, asked: bool, *, app, client, webhook, inv_id: int) -> int:
    """Answer by one path; returns the HTTP status of the step that carried the score."""
    if path == "json":
        res = client.post("/api/v1/answers", json={"token": _web_token(app, inv_id), "score": score,
                                                   "anonymous": asked})
        return res.status_code
    if path == "web":
        token = _web_token(app, inv_id)
        shown = client.get(f"/s/{token}")
        if shown.status_code != 200:
            return shown.status_code  # the page already says why it takes no answer
        page = shown.get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = {"csrf_token": csrf, "score": str(score), **({"anonymous": "y"} if asked else {})}
        return client.post(f"/s/{token}", data=form).status_code
    if path == "sms":
        body = f"{score} anon" if asked else str(score)
        res = webhook("/twilio/sms", {"MessageSid": f"SM{inv_id:032d}", "From": PHONE, "Body": body})
        return res.status_code
    base = f"/twilio/voice/invitation/{inv_id}"
    form = {"CallSid": f"CA{inv_id:032d}", "From": PHONE}
    webhook(base, form)
    res = webhook(f"{base}/score", {**form, "Digits": str(score)}, query="attempt=1")
    webhook(f"{base}/anonymous", {**form, "Digits": "1" if asked else "2"})
    return res.status_code


def expected_row(app, inv_id: int, score: int, anonymous: bool, answer_channel: str) -> dict:
    """The row DESIGN 5 asks for: what scoring needs, and links to the person only if not anonymous.

    `channel` is the invitation's whatever the path; `answer_channel` the way the answer came.
    """
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        interaction = db.session.get(Interaction, inv.interaction_id)
        linked = not anonymous
        return {"survey_id": inv.survey_id, "metric": "csat", "score": score, "reason": None,
                "anonymous": anonymous, "channel": inv.channel, "answer_channel": answer_channel,
                "interaction_type": "call",
                "agent_id": interaction.agent_id, "team": interaction.team, "queue": interaction.queue,
                "locale": inv.locale, "invitation_id": inv_id if linked else None,
                "interaction_id": interaction.id if linked else None,
                "customer_id": interaction.customer_id if linked else None}


def stored_rows(app) -> list[Response]:
    with app.app_context():
        rows = db.session.scalars(select(Response)).all()
        db.session.expunge_all()
        return rows


@pytest.mark.parametrize("path,anonymity,asked,scale", CASES)
def test_every_path_stores_the_same_row(app, client, admin, sms_surveys, twilio_api, webhook, caplog,
                                        path, anonymity, asked, scale):
    bounds, score = SCALES[scale]
    _survey(client, admin, anonymity, bounds, ["ivr"] if path == "ivr" else ["sms"])
    before = utcnow()
    inv_id = sent_invitation(app, client, admin, locale="en")
    with caplog.at_level(logging.INFO, logger="survey_service.answers.service"):
        status = answer(path, score, asked, app=app, client=client, webhook=webhook, inv_id=inv_id)
    rows = stored_rows(app)
    recorded = [r for r in caplog.records
                if r.getMessage().startswith(("answer recorded", "anonymous answer recorded"))]
    if anonymity == "never" and asked:
        # Refused alike: 422 on the web and the API, a text back on SMS; nothing stored either way.
        assert status == (200 if path == "sms" else 422)
        assert rows == [] and recorded == []
        with app.app_context():
            assert db.session.get(Invitation, inv_id).status == "sent"
        return
    assert status in (200, 201, 303)  # the web form redirects to its thank-you page
    anonymous = anonymity == "always" or asked
    [row] = rows
    stored = {column: getattr(row, column) for column in expected_row(app, inv_id, 0, False, "")}
    channel = "web" if path in ("web", "json") else path
    assert stored == expected_row(app, inv_id, score, anonymous, channel)
    if anonymous:
        assert row.answered_at == row.answered_at.replace(hour=0, minute=0, second=0, microsecond=0)
        assert row.answered_at.date() == before.date() or row.answered_at.date() == utcnow().date()
    else:
        assert before - timedelta(seconds=1) <= row.answered_at <= utcnow()
    # after_answer ran once, after commit, and logged nothing that ties the answer to the invitation.
    [logged] = [r.getMessage() for r in recorded]
    assert row.id not in logged and "score" not in logged
    if logged.startswith("anonymous"):  # anonymous when stored: not even the invitation is named
        assert anonymous and "invitation" not in logged
    else:  # named, as any answer; an IVR key 1 makes it anonymous only afterwards
        assert f"invitation {inv_id}," in logged and (not anonymous or path == "ivr")
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == "answered"


@pytest.mark.parametrize("path", PATHS)
def test_a_second_answer_is_refused_by_every_path(app, client, admin, sms_surveys, twilio_api, webhook,
                                                   path):
    _survey(client, admin, "optional", {"min": 1, "max": 5}, ["ivr"] if path == "ivr" else ["sms"])
    inv_id = sent_invitation(app, client, admin, locale="en")
    assert answer("json", 5, False, app=app, client=client, webhook=webhook, inv_id=inv_id) == 201
    status = answer(path, 2, False, app=app, client=client, webhook=webhook, inv_id=inv_id)
    assert status == (409 if path in ("web", "json") else 200)
    assert [r.score for r in stored_rows(app)] == [5]
