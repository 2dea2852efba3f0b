"""Delivery status callbacks: forward only, safe when replayed or out of order, fallbacks and opt-outs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from survey_service.extensions import db
from survey_service.invitations.models import Invitation, OptOut
from tests.twilio.conftest import sent_invitation, stored_invitation


@pytest.fixture
def status(webhook):
    def post(inv_id: int, state: str, sid: str | None = None, error: str | None = None, voice=False):
        key, sid_key = ("CallStatus", "CallSid") if voice else ("MessageStatus", "MessageSid")
        form = {sid_key: sid or "", key: state, "AccountSid": "AC" + "0" * 32}
        if error:
            form["ErrorCode"] = error
        path = "/twilio/voice/status" if voice else "/twilio/sms/status"
        res = webhook(path, form, query=f"invitation={inv_id}")
        assert res.status_code == 204
        return res

    return post



def _sms(app, client, admin, twilio_api, **kw):
    inv_id = sent_invitation(app, client, admin, **kw)
    return inv_id, twilio_api.messages[-1]["sid"]


def test_delivered_sets_delivered_at_and_replays_change_nothing(app, client, admin, sms_surveys,
                                                                twilio_api, status):
    inv_id, sid = _sms(app, client, admin, twilio_api)
    status(inv_id, "sent", sid)
    status(inv_id, "delivered", sid)
    first = stored_invitation(app, inv_id)
    assert first.status == "delivered" and first.delivered_at is not None
    status(inv_id, "delivered", sid)
    status(inv_id, "sent", sid)  # late and out of order
    status(inv_id, "queued", sid)
    again = stored_invitation(app, inv_id)
    assert again.status == "delivered" and again.delivered_at == first.delivered_at


def test_callback_before_the_send_commits_moves_sending_on(app, client, admin, sms_surveys, twilio_api,
                                                           status):
    inv_id, sid = _sms(app, client, admin, twilio_api)
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.status, inv.provider_id = "sending", None
        db.session.commit()
    status(inv_id, "delivered", sid)
    assert stored_invitation(app, inv_id).status == "delivered"


@pytest.mark.parametrize("final", ["answered", "expired", "failed"])
def test_final_status_never_goes_back(app, client, admin, sms_surveys, twilio_api, status, final):
    inv_id, sid = _sms(app, client, admin, twilio_api)
    with app.app_context():
        db.session.get(Invitation, inv_id).status = final
        db.session.commit()
    for state, code in [("delivered", None), ("sent", None), ("undelivered", "21211"),
                        ("failed", "21610"), ("undelivered", "30008")]:
        status(inv_id, state, sid, code)
        assert stored_invitation(app, inv_id).status == final
    assert (stored_invitation(app, inv_id).delivered_at is not None) == (final != "failed")


@pytest.mark.parametrize("code", ["30001", "30008"])
def test_carrier_failure_after_acceptance_fails_without_resend(app, client, admin, sms_surveys,
                                                               twilio_api, status, code):
    inv_id, sid = _sms(app, client, admin, twilio_api)
    status(inv_id, "undelivered", sid, code)
    inv = stored_invitation(app, inv_id)
    assert inv.status == "failed" and inv.failure_reason == f"twilio_{code}"
    assert len(twilio_api.requests) == 1


def test_opted_out_number_goes_on_the_list_and_falls_back(app, client, admin, sms_surveys, twilio_api,
                                                           status):
    inv_id, sid = _sms(app, client, admin, twilio_api)
    status(inv_id, "failed", sid, "21610")
    inv = stored_invitation(app, inv_id)
    assert (inv.status, inv.channel, inv.failure_reason) == ("scheduled", "ivr", "twilio_21610")
    with app.app_context():
        assert [(o.channel, o.address) for o in db.session.scalars(select(OptOut))] == [
            ("sms", "+8613800138000")]


def test_invalid_number_falls_back_once_even_when_replayed(app, client, admin, sms_surveys, twilio_api,
                                                           status):
    inv_id, sid = _sms(app, client, admin, twilio_api)
    status(inv_id, "undelivered", sid, "21211")
    assert stored_invitation(app, inv_id).channel == "ivr"
    status(inv_id, "undelivered", sid, "21211")  # replay about the old SMS: stale
    status(inv_id, "failed", sid, "21614")
    inv = stored_invitation(app, inv_id)
    assert (inv.status, inv.channel) == ("scheduled", "ivr")


def test_voice_statuses(app, client, admin, sms_surveys, twilio_api, status):
    client.patch("/api/v1/surveys/csat-call", headers=admin, json={"channels": ["ivr"]})
    first = sent_invitation(app, client, admin, "call-1")
    first_sid = twilio_api.calls[-1]["sid"]
    second = sent_invitation(app, client, admin, "call-2")
    second_sid = twilio_api.calls[-1]["sid"]
    for state in ("initiated", "ringing", "in-progress", "completed", "ringing"):
        status(first, state, first_sid, voice=True)
    assert stored_invitation(app, first).status == "delivered"
    status(second, "no-answer", second_sid, voice=True)
    status(second, "completed", second_sid, voice=True)
    inv = stored_invitation(app, second)
    assert (inv.status, inv.failure_reason) == ("failed", "call_no_answer")


def test_status_for_an_unknown_invitation_is_ignored(app, client, twilio_api, status):
    status(999999, "delivered", "SM1")


def test_status_callback_without_invitation_is_a_bad_request(app, client, twilio_api, webhook):
    assert webhook("/twilio/sms/status", {"MessageSid": "SM1", "MessageStatus": "sent"}).status_code == 400


def test_status_for_another_message_is_stale(app, client, admin, sms_surveys, twilio_api, status):
    inv_id, _ = _sms(app, client, admin, twilio_api)
    status(inv_id, "undelivered", "SM" + "f" * 32, "30008")
    assert stored_invitation(app, inv_id).status == "sent"
