"""Who earns a code: one rule (offer, answered within the window of the send), one code per invitation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, inspect, select

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.incentives import service
from survey_service.incentives.models import IncentiveCode
from tests.incentives.conftest import answer_json, stored_code
from tests.twilio.test_answer_parity import PATHS, answer

SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_qualifying_answer_earns_one_code_shown_in_the_201_body(app, client, offer):
    token, inv_id = offer()
    res = answer_json(client, token)
    assert res.status_code == 201, res.json
    code = res.json["incentive_code"]
    assert SHAPE.match(code)
    row = stored_code(app, inv_id)
    assert row.code == code and row.redeemed_at is None and row.order_id is None
    assert row.expires_at - row.issued_at == timedelta(days=90)
    with app.app_context():
        assert service.earned_code(inv_id) == code  # the thank-you page, on every reload
        # Idempotent: issuing again finds the same code and stores no second one.
        assert service.issue(inv_id).code == code
        assert service.award(inv_id) == code
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(IncentiveCode)) == 1


def test_a_held_out_invitation_earns_nothing(app, client, offer):
    token, inv_id = offer(holdout=True)
    res = answer_json(client, token)
    assert res.status_code == 201 and "incentive_code" not in res.json
    assert stored_code(app, inv_id) is None
    with app.app_context():
        assert service.earned_code(inv_id) is None and service.issue(inv_id) is None


def test_a_survey_without_incentive_earns_nothing(app, client, sent):
    token, inv_id = sent()
    res = answer_json(client, token)
    assert res.status_code == 201 and "incentive_code" not in res.json
    assert stored_code(app, inv_id) is None


def test_the_code_days_are_configurable(app, client, offer, monkeypatch):
    monkeypatch.setitem(app.config, "INCENTIVE_CODE_DAYS", 30)
    token, inv_id = offer()
    assert answer_json(client, token).status_code == 201
    row = stored_code(app, inv_id)
    assert row.expires_at - row.issued_at == timedelta(days=30)


@pytest.mark.parametrize("after, earns", [
    (timedelta(seconds=1800), True),
    (timedelta(seconds=3600) - timedelta(microseconds=1), True),
    (timedelta(seconds=3600), True),  # exactly at window_seconds: inclusive
    (timedelta(seconds=3601), False),
    (timedelta(seconds=3600, microseconds=1), False),
], ids=["inside", "just-before-the-edge", "at-the-edge", "a-second-late", "a-microsecond-late"])
def test_the_window_includes_its_last_second_and_nothing_after(app, client, offer, after, earns):
    sent_at = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(sent_at, tick=False):
        token, inv_id = offer(window=3600)
    with time_machine.travel(sent_at + after, tick=False):
        res = answer_json(client, token)
    assert res.status_code == 201
    assert ("incentive_code" in res.json) is earns
    assert (stored_code(app, inv_id) is not None) is earns


@pytest.mark.parametrize("sent_at, window, after, earns", [
    # Across midnight: 23:59:00 to 00:00:59 is 119 seconds, within a 120-second window.
    (datetime(2026, 6, 3, 23, 59, tzinfo=NEW_YORK), 120, timedelta(seconds=119), True),
    (datetime(2026, 6, 3, 23, 59, tzinfo=NEW_YORK), 120, timedelta(seconds=121), False),
    # Across the end of daylight saving time in New York (2026-11-01, 02:00 EDT -> 01:00 EST): a
    # day's window from 00:30 EDT is 86,400 seconds, which end at 23:30 EST by the wall clock; at
    # 00:30 EST the next day, a wall-clock day later, it has closed.
    (datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK), 86400, timedelta(seconds=86400), True),
    (datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK), 86400, timedelta(hours=25), False),
    # Across its start (2026-03-08, 02:00 EST -> 03:00 EDT): the window ends at 01:30 wall clock.
    (datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK), 86400, timedelta(seconds=86400), True),
    (datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK), 86400, timedelta(seconds=86401), False),
], ids=["midnight-inside", "midnight-late", "dst-end-inside", "dst-end-wall-clock-day-late",
        "dst-start-inside", "dst-start-late"])
def test_the_window_counts_seconds_across_midnight_and_daylight_saving(app, client, offer, sent_at,
                                                                       window, after, earns):
    with time_machine.travel(sent_at, tick=False):
        token, inv_id = offer(window=window)
    with time_machine.travel(sent_at.astimezone(UTC) + after, tick=False):
        res = answer_json(client, token)
    assert res.status_code == 201
    assert ("incentive_code" in res.json) is earns
    assert (stored_code(app, inv_id) is not None) is earns


def test_the_dst_cases_are_what_they_say():
    """The wall clock of those answers, so the cases above test what their names claim."""
    end = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)
    assert (end.astimezone(UTC) + timedelta(seconds=86400)).astimezone(NEW_YORK).hour == 23
    start = datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK)
    assert (start.astimezone(UTC) + timedelta(seconds=86400)).astimezone(NEW_YORK).hour == 1


def test_an_anonymous_answer_earns_a_code_that_never_links_to_the_response(app, client, offer):
    token, inv_id = offer()
    res = answer_json(client, token, anonymous=True)
    assert res.status_code == 201 and res.json["anonymous"] is True
    code = res.json["incentive_code"]
    with app.app_context():
        [response] = db.session.scalars(select(Response)).all()
        row = db.session.scalar(select(IncentiveCode))
        # The response names no invitation, interaction or customer, and keeps only its day.
        assert (response.invitation_id, response.interaction_id, response.customer_id) == (None, None, None)
        assert response.answered_at.time() == datetime.min.time()
        # The code row names its invitation and survey, nothing of the response.
        columns = {c.key for c in inspect(IncentiveCode).columns}
        assert columns == {"id", "code", "invitation_id", "survey_id", "issued_at", "expires_at",
                           "redeemed_at", "order_id", "sending_at", "sent_at", "send_failure"}
        assert row.code == code and row.invitation_id == inv_id
        values = {str(getattr(row, c)) for c in columns}
        assert response.id not in values
        assert code not in {str(getattr(response, c.key)) for c in inspect(Response).columns}


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_path_earns_the_code(app, client, admin, sms_surveys, twilio_api, webhook, path):
    """Web form, JSON, SMS reply and IVR keypress all reach the same step after the answer."""
    from tests.twilio.conftest import sent_invitation

    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={
        "incentive": {"reward": "a free coffee", "window_seconds": 3600, "holdout_rate": 0.0},
        "channels": ["ivr"] if path == "ivr" else ["sms"]})
    assert res.status_code == 200, res.json
    inv_id = sent_invitation(app, client, admin, locale="en")
    status = answer(path, 4, False, app=app, client=client, webhook=webhook, inv_id=inv_id)
    assert status in (200, 201, 303)  # the web form redirects to its thank-you page
    row = stored_code(app, inv_id)
    assert row is not None and SHAPE.match(row.code)
    # An SMS reply and the call carry the code themselves; the other paths leave it to the send task.
    assert (row.sent_at is not None) is (path in ("sms", "ivr"))


def test_the_call_says_the_code_it_earned(app, client, admin, sms_surveys, twilio_api, webhook):
    """An IVR keypress that earns a code hears it, each character alone and twice; nothing else sends it."""
    from xml.etree import ElementTree

    from tests.twilio.conftest import sent_invitation

    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={
        "incentive": {"reward": "a free coffee", "window_seconds": 3600, "holdout_rate": 0.0},
        "channels": ["ivr"], "texts": {"zh-Hans": {"question": "您满意吗？", "reward": "一杯免费咖啡"}}})
    assert res.status_code == 200, res.json
    inv_id = sent_invitation(app, client, admin, locale="zh-Hans")
    call = {"CallSid": "CA" + "7" * 32, "From": "+8613800138000"}
    assert webhook(f"/twilio/voice/invitation/{inv_id}", call).status_code == 200
    res = webhook(f"/twilio/voice/invitation/{inv_id}/score", {**call, "Digits": "4"}, query="attempt=1")
    assert res.status_code == 200, res.data
    row = stored_code(app, inv_id)
    said = [s.text for s in ElementTree.fromstring(res.data).iter("Say")]
    first, second = row.code.split("-")
    spelled = f"{' '.join(first)}，{' '.join(second)}"
    assert said[0] == f"您获得了一杯免费咖啡。您的优惠码是：{spelled}。再说一遍：{spelled}。"
    assert row.sent_at is not None  # the call carried it: no message of its own
    again = webhook(f"/twilio/voice/invitation/{inv_id}/score", {**call, "Digits": "4"}, query="attempt=1")
    assert stored_code(app, inv_id).code == row.code and again.status_code == 200
