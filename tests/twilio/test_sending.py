"""SMS and call sending through the Twilio API: fields, error codes, retries, reconciliation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey_service.db import utcnow
from survey_service.delivery.callbacks import reconcile_sending
from survey_service.extensions import db
from survey_service.invitations.models import Invitation, OptOut
from tests.twilio.conftest import FROM, PUBLIC, deliver, intake, stored_invitation


def test_sms_goes_to_twilio_with_status_callback_in_respondents_language(
        app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "sent"
    [req] = twilio_api.requests
    form = req["form"]
    assert form["To"] == "+8613800138000" and form["From"] == FROM
    assert form["StatusCallback"] == f"{PUBLIC}/twilio/sms/status?invitation={inv_id}"
    first, second = form["Body"].splitlines()
    assert "匿名" in first
    assert "您对今天的通话服务满意吗" in second and "1-5" in second and "退订" in second
    assert len(form["Body"]) <= 140  # two UCS-2 segments at most
    inv = stored_invitation(app, inv_id)
    assert inv.status == "sent" and inv.provider_id == twilio_api.messages[0]["sid"]


def test_english_sms_names_sender_and_ends_in_two_segments_and_says_how_to_stop(
        app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin, locale="en-GB")
    deliver(app, inv_id)
    body = twilio_api.requests[0]["form"]["Body"]
    assert body.splitlines()[0] == ("Customer feedback: You may answer anonymously by adding ANON"
                                    " to your reply.")
    assert "Reply 1-5 (1 = Very dissatisfied, 5 = Very satisfied)." in body
    assert "STOP" in body and len(body) <= 2 * 153  # two GSM-7 segments at most


def test_429_twice_then_success_sends_exactly_once(app, client, admin, sms_surveys, twilio_api):
    twilio_api.fail_next(2, 429, 20429)
    inv_id = intake(client, admin)
    outcomes = [deliver(app, inv_id) for _ in range(3)]
    assert outcomes == ["scheduled", "scheduled", "sent"]
    assert len(twilio_api.requests) == 3 and len(twilio_api.messages) == 1
    assert deliver(app, inv_id) == "skipped"
    inv = stored_invitation(app, inv_id)
    assert inv.attempts == 3 and inv.provider_id == twilio_api.messages[0]["sid"]


@pytest.mark.parametrize("status,code,reason", [
    (500, None, "http_500"), (503, 20503, "twilio_20503"), (429, None, "http_429"),
    (400, 30001, "twilio_30001"), (400, 30008, "twilio_30008"),
])
def test_transient_errors_reschedule_with_backoff(app, client, admin, sms_surveys, twilio_api,
                                                  status, code, reason):
    twilio_api.fail_next(1, status, code)
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "scheduled"
    inv = stored_invitation(app, inv_id)
    assert inv.status == "scheduled" and inv.failure_reason == reason
    assert inv.due_at > utcnow() - timedelta(seconds=1)


def test_unreachable_twilio_is_transient(app, client, admin, sms_surveys, twilio_api):
    app.config["TWILIO_API_BASE_URL"] = "http://127.0.0.1:1"
    app.extensions.pop("survey_channels", None)
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "scheduled"
    assert stored_invitation(app, inv_id).failure_reason == "twilio_unreachable"


@pytest.mark.parametrize("code", [21211, 21614])
def test_invalid_number_falls_back_to_the_next_channel(app, client, admin, sms_surveys, twilio_api, code):
    twilio_api.fail_next(1, 400, code)
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "scheduled"
    inv = stored_invitation(app, inv_id)
    assert inv.channel == "ivr" and inv.failure_reason == f"twilio_{code}"
    assert deliver(app, inv_id) == "sent"
    [call] = twilio_api.calls
    assert call["url"] == f"{PUBLIC}/twilio/voice/invitation/{inv_id}"
    assert call["status_callback"] == f"{PUBLIC}/twilio/voice/status?invitation={inv_id}"


def test_opted_out_at_twilio_goes_on_the_list_and_falls_back(app, client, admin, sms_surveys,
                                                            twilio_api):
    twilio_api.fail_next(1, 400, 21610)
    inv_id = intake(client, admin)
    deliver(app, inv_id)
    assert stored_invitation(app, inv_id).channel == "ivr"
    with app.app_context():
        [row] = db.session.scalars(select(OptOut)).all()
        assert (row.channel, row.address, row.reason) == ("sms", "+8613800138000", "twilio_21610")


def test_other_4xx_fails_without_retry(app, client, admin, sms_surveys, twilio_api):
    twilio_api.fail_next(1, 400, 21408)
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "failed"
    assert stored_invitation(app, inv_id).failure_reason == "twilio_21408"
    assert len(twilio_api.requests) == 1


def test_ivr_call_carries_voice_url_and_status_events(app, client, admin, sms_surveys, twilio_api):
    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={"channels": ["ivr"]})
    assert res.status_code == 200
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "sent"
    [req] = twilio_api.requests
    assert req["path"].endswith("/Calls.json")
    assert req["form"]["Url"] == f"{PUBLIC}/twilio/voice/invitation/{inv_id}"
    assert set(req["form"]["StatusCallbackEvent"]) >= {"initiated", "completed"}
    assert stored_invitation(app, inv_id).provider_id.startswith("CA")


def _stuck_in_sending(app, inv_id, provider_id, minutes=10):
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.status, inv.provider_id = "sending", provider_id
        inv.sending_at = utcnow() - timedelta(minutes=minutes)
        db.session.commit()


def test_row_left_in_sending_is_looked_up_not_resent(app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin)
    deliver(app, inv_id)
    sid = twilio_api.messages[0]["sid"]
    twilio_api.resources[sid]["status"] = "delivered"
    _stuck_in_sending(app, inv_id, sid)
    with app.app_context():
        assert reconcile_sending() == 1
        db.session.commit()
    inv = stored_invitation(app, inv_id)
    assert inv.status == "delivered" and inv.delivered_at is not None
    assert len(twilio_api.messages) == 1
    assert twilio_api.requests[-1]["method"] == "GET"


def test_row_in_sending_without_provider_id_waits_for_its_callback(app, client, admin, sms_surveys,
                                                                  twilio_api):
    inv_id = intake(client, admin)
    deliver(app, inv_id)
    _stuck_in_sending(app, inv_id, None)
    with app.app_context():
        assert reconcile_sending() == 0
        db.session.commit()
    assert stored_invitation(app, inv_id).status == "sending"
    _stuck_in_sending(app, inv_id, None, minutes=60 * 25)
    with app.app_context():
        reconcile_sending()
        db.session.commit()
    inv = stored_invitation(app, inv_id)
    assert inv.status == "failed" and inv.failure_reason == "send_unconfirmed"
    assert len(twilio_api.requests) == 1


def test_rejected_credentials_are_retried_not_blamed_on_the_recipient(app, client, admin, sms_surveys,
                                                                      twilio_api):
    twilio_api.fail_next(1, 401, 20003)
    inv_id = intake(client, admin)
    assert deliver(app, inv_id) == "scheduled"
    inv = stored_invitation(app, inv_id)
    assert inv.channel == "sms" and inv.failure_reason == "twilio_auth_401"
    assert deliver(app, inv_id) == "sent"
    assert len(twilio_api.messages) == 1
