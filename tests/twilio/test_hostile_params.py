"""Signed Twilio webhooks with parameters Twilio never sends: a 400 naming the parameter, nothing written.

The signature is correct each time, so the input reaches the service's own checks.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_service.answers.models import Conversation, InboundMessage, Response
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from tests.twilio.conftest import sent_invitation

PHONE = "+8613800138000"
SID = "SM" + "a" * 32
CALL = "CA" + "1" * 32


def rows(app) -> dict:
    with app.app_context():
        return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                for m in (InboundMessage, Conversation, Response)}


def invitation_status(app, inv_id: int) -> str:
    with app.app_context():
        return db.session.get(Invitation, inv_id).status


@pytest.mark.parametrize(("form", "name"), [
    ({"MessageSid": "SM" + "x" * 100, "From": PHONE, "Body": "5"}, "MessageSid"),
    ({"MessageSid": SID, "From": PHONE + "\x00", "Body": "5"}, "From"),
    ({"MessageSid": SID, "From": "+" + "8" * 100, "Body": "5"}, "From"),
    ({"MessageSid": SID, "From": PHONE, "Body": "5\x00"}, "Body"),
    ({"MessageSid": SID, "From": PHONE, "Body": "很好" * 3000}, "Body"),
])
def test_an_sms_with_a_parameter_twilio_never_sends_is_400(app, client, admin, sms_surveys,
                                                           twilio_api, webhook, form, name):
    inv_id = sent_invitation(app, client, admin)
    before = rows(app)
    res = webhook("/twilio/sms", form)
    assert res.status_code == 400, res.data
    assert name in res.json["message"] and name in res.json["errors"]["form"]
    assert rows(app) == before and invitation_status(app, inv_id) == "sent"


@pytest.mark.parametrize("query", ["invitation=99999999999999999999", "invitation=2147483648",
                                   "invitation=abc", "invitation=-1", "invitation=%00", ""])
def test_a_status_callback_naming_no_real_id_is_400(app, client, admin, sms_surveys, twilio_api,
                                                    webhook, query):
    inv_id = sent_invitation(app, client, admin)
    for path, form in (("/twilio/sms/status", {"MessageSid": SID, "MessageStatus": "delivered"}),
                       ("/twilio/voice/status", {"CallSid": CALL, "CallStatus": "completed"})):
        res = webhook(path, form, query=query)
        assert res.status_code == 400, (path, query, res.data)
        assert res.json["code"] == 400
    assert invitation_status(app, inv_id) == "sent"


def test_a_huge_error_code_is_ignored_not_stored(app, client, admin, sms_surveys, twilio_api, webhook):
    inv_id = sent_invitation(app, client, admin)
    res = webhook("/twilio/sms/status", {"MessageSid": SID, "MessageStatus": "undelivered",
                                         "ErrorCode": "9" * 15}, query=f"invitation={inv_id}")
    assert res.status_code == 204


@pytest.mark.parametrize("invitation", ["99999999999999999999", "2147483648", "0"])
def test_a_voice_route_with_an_id_past_any_row_is_404(client, twilio_api, webhook, invitation):
    for step in ("", "/score", "/anonymous", "/reason"):
        res = webhook(f"/twilio/voice/invitation/{invitation}{step}", {"CallSid": CALL})
        assert res.status_code == 404, (step, res.data)


@pytest.fixture
def ivr_invitation(app, client, admin, sms_surveys, twilio_api):
    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={"channels": ["ivr"]})
    assert res.status_code == 200
    return sent_invitation(app, client, admin)


@pytest.mark.parametrize("digits", ["9" * 5000, "²", "١", "５", "1" * 40, "-1", "4 5"])
def test_keypresses_no_keypad_sends_record_nothing(app, ivr_invitation, webhook, digits):
    res = webhook(f"/twilio/voice/invitation/{ivr_invitation}/score", {"CallSid": CALL,
                                                                         "Digits": digits})
    if len(digits) > 32:
        assert res.status_code == 400 and "Digits" in res.json["message"]
    else:
        assert res.status_code == 200 and b"<Gather" in res.data  # asked again
    assert rows(app)["responses"] == 0


@pytest.mark.parametrize(("form", "name"), [
    ({"CallSid": "CA" + "c" * 100}, "CallSid"),
    ({"CallSid": CALL, "RecordingUrl": "https://x/" + "r" * 600}, "RecordingUrl"),
    ({"CallSid": CALL + "\x00"}, "CallSid"),
])
def test_a_call_step_with_a_parameter_twilio_never_sends_is_400(app, ivr_invitation, webhook, form,
                                                                name):
    before = rows(app)
    for step in ("", "/score", "/reason"):
        res = webhook(f"/twilio/voice/invitation/{ivr_invitation}{step}", form)
        assert res.status_code == 400 and name in res.json["message"], (step, res.data)
    assert rows(app) == before


def test_a_transfer_from_a_caller_id_past_any_number_is_400(app, ivr_invitation, webhook):
    res = webhook("/twilio/voice/transfer/pbx/call-1", {"CallSid": CALL, "From": "x" * 500})
    assert res.status_code == 400 and "From" in res.json["message"]


def test_an_attempt_that_is_not_ours_ends_the_question(app, ivr_invitation, webhook):
    """attempt is 1 or 2 in the URLs the service writes; anything else counts as the last try."""
    res = webhook(f"/twilio/voice/invitation/{ivr_invitation}/score", {"CallSid": CALL},
                  query="attempt=" + "9" * 5000)
    assert res.status_code == 200 and b"<Gather" not in res.data
