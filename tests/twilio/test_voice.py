"""The IVR survey: question, keypress, anonymity, recorded reason, retries, transfers."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from survey_service.answers.models import Conversation, Response
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from tests.conftest import interaction
from tests.twilio.conftest import PUBLIC, deliver, intake, sent_invitation

CALL = "CA" + "1" * 32
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE" + "2" * 32


@pytest.fixture
def ivr_survey(client, admin, sms_surveys):
    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={"channels": ["ivr"]})
    assert res.status_code == 200


@pytest.fixture
def call(webhook):
    """POST a voice webhook for CALL; returns the TwiML as an element tree."""

    def post(path: str, query: str = "", **form):
        res = webhook(path, {"CallSid": CALL, "From": "+8613800138000", **form}, query=query)
        assert res.status_code == 200 and res.content_type.startswith("text/xml"), res.data
        return ElementTree.fromstring(res.data)

    return post


def _responses(app) -> list[Response]:
    with app.app_context():
        rows = db.session.scalars(select(Response)).all()
        db.session.expunge_all()
        return rows


def _said(root) -> str:
    return " ".join(s.text or "" for s in root.iter("Say"))


def test_outbound_call_asks_in_the_respondents_language(app, client, admin, ivr_survey, twilio_api, call):
    inv_id = sent_invitation(app, client, admin)
    root = call(f"/twilio/voice/invitation/{inv_id}")
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1" and gather.get("timeout")
    assert gather.get("action") == f"{PUBLIC}/twilio/voice/invitation/{inv_id}/score?attempt=1"
    says = gather.findall("Say")
    assert {s.get("language") for s in says} == {"cmn-CN"}
    assert "匿名" in says[0].text and "您对今天的通话服务满意吗" in _said(root)


@pytest.mark.parametrize("locale,language", [("en-US", "en-US"), ("zh-TW", "cmn-TW")])
def test_say_language_per_locale(app, client, admin, ivr_survey, twilio_api, call, locale, language):
    inv_id = sent_invitation(app, client, admin, locale=locale)
    root = call(f"/twilio/voice/invitation/{inv_id}")
    assert {s.get("language") for s in root.iter("Say")} == {language}


def test_keypress_then_anonymity_then_recorded_reason(app, client, admin, ivr_survey, twilio_api, call):
    inv_id = sent_invitation(app, client, admin, locale="en")
    call(f"/twilio/voice/invitation/{inv_id}")
    root = call(f"/twilio/voice/invitation/{inv_id}/score", "attempt=1", Digits="4")
    assert "anonymous, press 1" in _said(root)
    [row] = _responses(app)
    assert (row.score, row.channel, row.invitation_id) == (4, "ivr", inv_id)
    root = call(f"/twilio/voice/invitation/{inv_id}/anonymous", Digits="1")
    record = root.find("Record")
    assert record.get("action") == f"{PUBLIC}/twilio/voice/invitation/{inv_id}/reason"
    [row] = _responses(app)
    assert row.anonymous and row.invitation_id is None
    root = call(f"/twilio/voice/invitation/{inv_id}/reason", RecordingUrl=RECORDING)
    assert root.find("Hangup") is not None
    [row] = _responses(app)
    assert row.recording_url == RECORDING and row.anonymous
    with app.app_context():
        assert db.session.scalar(select(Conversation)).response_id is None
        assert db.session.get(Invitation, inv_id).status == "answered"


def test_retried_webhooks_record_nothing_twice(app, client, admin, ivr_survey, twilio_api, call):
    inv_id = sent_invitation(app, client, admin, locale="en")
    call(f"/twilio/voice/invitation/{inv_id}")
    first = call(f"/twilio/voice/invitation/{inv_id}/score", "attempt=1", Digits="5")
    again = call(f"/twilio/voice/invitation/{inv_id}/score", "attempt=1", Digits="5")
    assert ElementTree.tostring(first) == ElementTree.tostring(again)
    call(f"/twilio/voice/invitation/{inv_id}/anonymous", Digits="2")
    call(f"/twilio/voice/invitation/{inv_id}/reason", RecordingUrl=RECORDING)
    call(f"/twilio/voice/invitation/{inv_id}/reason", RecordingUrl=RECORDING + "x")
    assert "Thank you" in _said(call(f"/twilio/voice/invitation/{inv_id}/score", Digits="3"))
    [row] = _responses(app)
    assert (row.score, row.anonymous, row.recording_url) == (5, False, RECORDING)


def test_no_or_invalid_input_repeats_once_then_says_goodbye(app, client, admin, ivr_survey, twilio_api,
                                                             call):
    inv_id = sent_invitation(app, client, admin, locale="en")
    call(f"/twilio/voice/invitation/{inv_id}")
    root = call(f"/twilio/voice/invitation/{inv_id}/score", "attempt=1")
    assert "did not get that" in _said(root)
    assert root.find("Gather").get("action").endswith("attempt=2")
    root = call(f"/twilio/voice/invitation/{inv_id}/score", "attempt=2", Digits="9")
    assert root.find("Gather") is None and root.find("Hangup") is not None
    assert "Goodbye" in _said(root)
    assert _responses(app) == []


def test_survey_without_anonymity_goes_straight_to_the_reason(app, client, admin, ivr_survey,
                                                              twilio_api, call):
    client.patch("/api/v1/surveys/csat-call", headers=admin, json={"anonymity": "never"})
    inv_id = sent_invitation(app, client, admin, locale="en")
    root = call(f"/twilio/voice/invitation/{inv_id}")
    assert "anonymous" not in _said(root)
    root = call(f"/twilio/voice/invitation/{inv_id}/score", Digits="2")
    assert root.find("Record") is not None and "anonymous" not in _said(root)


def test_answered_invitation_is_not_asked_again(app, client, admin, ivr_survey, twilio_api, call):
    inv_id = sent_invitation(app, client, admin, locale="en")
    call(f"/twilio/voice/invitation/{inv_id}/score", Digits="2")
    root = call(f"/twilio/voice/invitation/{inv_id}")
    assert root.find("Gather") is None and "already been answered" in _said(root)


def test_transferred_caller_answers_the_scheduled_invitation(app, client, admin, sms_surveys,
                                                             twilio_api, call):
    inv_id = intake(client, admin, locale="en")  # still scheduled: the SMS has not gone out
    root = call("/twilio/voice/transfer/pbx/call-1")
    assert root.find("Gather").get("action").startswith(f"{PUBLIC}/twilio/voice/invitation/{inv_id}/")
    call(f"/twilio/voice/invitation/{inv_id}/score", Digits="5")
    [row] = _responses(app)
    assert (row.score, row.channel) == (5, "ivr")
    assert deliver(app, inv_id) == "skipped"
    assert twilio_api.requests == []


def test_transferred_caller_answers_an_open_sms_invitation(app, client, admin, sms_surveys, twilio_api,
                                                           call):
    inv_id = sent_invitation(app, client, admin, locale="en")
    root = call("/twilio/voice/transfer/pbx/call-1")
    assert f"/invitation/{inv_id}/score" in root.find("Gather").get("action")


def _interaction_before_its_survey(client, admin) -> None:
    """call-9 ended while csat-call was inactive: it has no invitation to take over."""
    client.patch("/api/v1/surveys/csat-call", headers=admin, json={"active": False})
    res = client.post("/api/v1/interactions", headers=admin, json=interaction(external_id="call-9"))
    assert res.status_code == 201 and res.json["invitations"] == []
    client.patch("/api/v1/surveys/csat-call", headers=admin, json={"active": True})


def test_transfer_makes_an_invitation_when_there_is_none(app, client, admin, sms_surveys, twilio_api,
                                                         call):
    _interaction_before_its_survey(client, admin)
    root = call("/twilio/voice/transfer/pbx/call-9")
    with app.app_context():
        [inv] = db.session.scalars(select(Invitation)).all()
        assert (inv.channel, inv.status) == ("ivr", "sent")
    assert f"/invitation/{inv.id}/score" in root.find("Gather").get("action")


def test_transfer_for_an_unknown_interaction_says_goodbye(app, client, twilio_api, call):
    root = call("/twilio/voice/transfer/pbx/nope")
    assert root.find("Hangup") is not None and root.find("Gather") is None


def test_transfer_plans_its_invitation_through_the_policy(app, client, admin, sms_surveys, twilio_api,
                                                          call):
    """A caller who opted out of calls is not asked on the line; the refusal is kept as suppressed."""
    from survey_service.invitations.service import opt_out

    _interaction_before_its_survey(client, admin)
    with app.app_context():
        opt_out("ivr", "+8613800138000")
        db.session.commit()
    root = call("/twilio/voice/transfer/pbx/call-9")
    assert root.find("Gather") is None
    with app.app_context():
        [inv] = db.session.scalars(select(Invitation)).all()
        assert (inv.status, inv.suppressed_reason, inv.wake_at) == ("suppressed", "opted_out", None)
