"""End to end: an ended call becomes one SMS (or one call) at Twilio, and signed replies become an answer."""

from __future__ import annotations

from xml.etree import ElementTree

from sqlalchemy import select

from survey_service.answers.models import Response
from survey_service.delivery.service import send_invitation
from survey_service.extensions import db
from survey_service.invitations.sweeper import sweep
from tests.conftest import interaction


def _run_sweep(app) -> list[int]:
    """The beat's sweep and the send tasks it would enqueue, run in this process."""
    with app.app_context():
        enqueued: list[int] = []
        sweep(enqueued.extend)
        return [send_invitation(i) for i in enqueued]


def _answer(app) -> Response:
    with app.app_context():
        [row] = db.session.scalars(select(Response)).all()
        db.session.expunge(row)
        return row


def test_call_to_sms_to_score_and_reason(app, client, admin, seeded, twilio_api, webhook):
    res = client.patch("/api/v1/surveys/csat-call", headers=admin,
                       json={"delay_seconds": 1, "quiet_hours": None})
    assert res.status_code == 200
    res = client.post("/api/v1/interactions", headers=admin, json=interaction())
    assert res.status_code == 201
    [inv] = res.json["invitations"]
    assert (inv["survey"], inv["channel"]) == ("csat-call", "sms")
    assert _run_sweep(app) == ["sent"]
    assert _run_sweep(app) == []
    [message] = twilio_api.messages
    assert message["to"] == "+8613800138000"
    status = client.get("/api/v1/interactions/pbx/call-1", headers=admin).json
    assert status["invitations"][0]["status"] == "sent"

    webhook("/twilio/sms/status", {"MessageSid": message["sid"], "MessageStatus": "delivered"},
            query=f"invitation={inv['id']}")
    first = webhook("/twilio/sms", {"MessageSid": "SM" + "1" * 32, "From": "+8613800138000",
                                    "Body": "５"})
    assert "原因" in ElementTree.fromstring(first.data).find("Message").text
    webhook("/twilio/sms", {"MessageSid": "SM" + "2" * 32, "From": "+8613800138000",
                            "Body": "问题很快解决了"})
    row = _answer(app)
    assert (row.score, row.reason, row.channel) == (5, "问题很快解决了", "sms")
    status = client.get("/api/v1/interactions/pbx/call-1", headers=admin).json
    assert status["invitations"][0]["status"] == "answered"


def test_call_to_ivr_to_keypresses(app, client, admin, seeded, twilio_api, webhook):
    client.patch("/api/v1/surveys/csat-call", headers=admin,
                 json={"delay_seconds": 1, "quiet_hours": None, "channels": ["ivr"]})
    res = client.post("/api/v1/interactions", headers=admin,
                      json=interaction(customer={"id": "c-2", "phone": "+14155550100", "locale": "en"}))
    inv_id = res.json["invitations"][0]["id"]
    assert _run_sweep(app) == ["sent"]
    [placed] = twilio_api.calls
    voice_url = placed["url"]
    path = voice_url.removeprefix("https://surveys.example.com")
    form = {"CallSid": placed["sid"], "From": "+15005550006", "To": "+14155550100"}
    webhook("/twilio/voice/status", form | {"CallStatus": "in-progress"}, query=f"invitation={inv_id}")
    root = ElementTree.fromstring(webhook(path, form).data)
    action = root.find("Gather").get("action").removeprefix("https://surveys.example.com")
    path_part, _, query = action.partition("?")
    root = ElementTree.fromstring(webhook(path_part, form | {"Digits": "2"}, query=query).data)
    anon = root.find("Gather").get("action").removeprefix("https://surveys.example.com")
    root = ElementTree.fromstring(webhook(anon, form | {"Digits": "9"}).data)
    reason = root.find("Record").get("action").removeprefix("https://surveys.example.com")
    webhook(reason, form | {"RecordingUrl": "https://api.twilio.com/rec/RE1"})
    webhook("/twilio/voice/status", form | {"CallStatus": "completed"}, query=f"invitation={inv_id}")
    row = _answer(app)
    assert (row.score, row.channel, row.anonymous, row.recording_url) == (
        2, "ivr", False, "https://api.twilio.com/rec/RE1")
    status = client.get("/api/v1/interactions/pbx/call-1", headers=admin).json
    assert status["invitations"][0]["status"] == "answered"
