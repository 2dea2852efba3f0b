"""The real stack: an answer's code reaches the respondent's mailbox through the broker and a worker."""

from __future__ import annotations

import re
import time

import pytest

from survey_service.auth import create_key
from survey_service.extensions import db
from survey_service.invitations.policy import draw
from survey_service.surveys.service import seed_default_surveys
from tests.conftest import ended
from tests.test_e2e_stack import MAIL_WAIT, PUBLIC, stack, wait_for_mail  # noqa: F401 (the fixture)

pytestmark = pytest.mark.stack


def test_an_answers_code_arrives_by_email_through_the_worker(stack):  # noqa: F811
    app, inbox, logs = stack
    with app.app_context():
        seed_default_surveys()
        _, clear = create_key("admin", ["admin"])
        db.session.commit()
    admin = {"Authorization": f"Bearer {clear}"}
    client = app.test_client()
    res = client.patch("/api/v1/surveys/csat-purchase", json={"delay_seconds": 0, "quiet_hours": None},
                       headers=admin)
    assert res.status_code == 200, res.json
    external_id = next(f"order-{n}" for n in range(100)
                       if draw(f"shop\x1forder-{n}", "csat-purchase", "holdout") >= 0.1)
    res = client.post("/api/v1/interactions", headers=admin, json={
        "external_id": external_id, "source": "shop", "type": "purchase", "ended_at": ended(0),
        "customer": {"email": "li.wei@example.com", "locale": "zh-Hans"}})
    assert res.status_code == 201, res.json

    invite = wait_for_mail(inbox, logs).get_body(("plain",)).get_content()
    token = re.search(re.escape(PUBLIC) + r"/s/([A-Za-z0-9_-]+)", invite).group(1)
    res = client.post("/api/v1/answers", json={"token": token, "score": 5})
    assert res.status_code == 201, res.json
    code = res.json["incentive_code"]

    deadline = time.monotonic() + MAIL_WAIT
    while len(inbox.messages) < 2:
        if time.monotonic() > deadline:
            pytest.fail("no code email; worker log:\n" + (logs / "worker.log").read_text()[-4000:])
        time.sleep(0.2)
    mail = inbox.messages[1]
    assert mail["Subject"] == "您的答谢优惠码"
    assert f"优惠码：{code}" in mail.get_body(("plain",)).get_content()
    time.sleep(1.5)
    assert len(inbox.messages) == 2  # once
