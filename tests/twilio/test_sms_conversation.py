"""The SMS conversation: score, reason, anonymity, keywords, late, duplicate and misdirected replies."""

from __future__ import annotations

import itertools
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from survey_service.answers.models import Conversation, Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation, OptOut
from tests.twilio.conftest import sent_invitation

PHONE = "+8613800138000"
_sids = itertools.count(1)


@pytest.fixture
def reply(webhook):
    """Text the service from PHONE; returns the TwiML answer's message text (None if empty)."""

    def send(body: str, sid: str | None = None, phone: str = PHONE):
        res = webhook("/twilio/sms", {"MessageSid": sid or f"SM{next(_sids):032d}", "From": phone,
                                      "To": "+15005550006", "Body": body})
        assert res.status_code == 200 and res.content_type.startswith("text/xml")
        root = ElementTree.fromstring(res.data)
        assert root.tag == "Response"
        messages = [m.text for m in root.iter("Message")]
        return messages[0] if messages else None

    return send


def _responses(app) -> list[Response]:
    with app.app_context():
        rows = db.session.scalars(select(Response)).all()
        db.session.expunge_all()
        return rows


def _status(app, inv_id) -> str:
    with app.app_context():
        return db.session.get(Invitation, inv_id).status


@pytest.mark.parametrize("body,score", [("4", 4), ("４", 4), ("四", 4), ("4分", 4)])
def test_score_then_reason(app, client, admin, sms_surveys, twilio_api, reply, body, score):
    inv_id = sent_invitation(app, client, admin)
    answer = reply(body)
    assert "原因" in answer and "匿名" in answer
    [row] = _responses(app)
    assert (row.score, row.channel, row.invitation_id, row.anonymous) == (score, "sms", inv_id, False)
    assert _status(app, inv_id) == "answered"
    assert reply("客服很耐心") == "感谢您的反馈！"
    assert _responses(app)[0].reason == "客服很耐心"
    with app.app_context():
        conv = db.session.scalar(select(Conversation))
        assert conv.state == "closed" and conv.response_id is None


def test_yes_no_survey_takes_words(app, client, admin, sms_surveys, twilio_api, reply):
    res = client.patch("/api/v1/surveys/csat-call", headers=admin, json={
        "scale": {"min": 0, "max": 1}, "texts": {"en": {"question": "Was your issue solved?"}}})
    assert res.status_code == 200, res.json
    sent_invitation(app, client, admin, locale="en")
    assert "YES or NO" in twilio_api.messages[0]["body"]
    reply("Yes!")
    assert _responses(app)[0].score == 1


def test_out_of_scale_gets_one_reprompt(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    assert reply("7") == "Please reply with a number from 1 to 5."
    assert reply("8") is None
    assert reply("great service") is None
    assert _responses(app) == []
    assert reply("5").startswith("Thank you!")
    assert _responses(app)[0].score == 5


def test_text_before_a_score_is_not_an_answer(app, client, admin, sms_surveys, twilio_api, reply):
    inv_id = sent_invitation(app, client, admin, locale="en")
    assert reply("who is this?") == "Please reply with a number from 1 to 5."
    assert _responses(app) == [] and _status(app, inv_id) == "sent"


def test_reason_after_the_window_is_not_recorded(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    reply("2")
    with app.app_context():
        conv = db.session.scalar(select(Conversation))
        conv.open_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert reply("too slow") == "Your answer has already been recorded. Thank you!"
    assert _responses(app)[0].reason is None


def test_anonymous_with_the_score_is_unlinkable(app, client, admin, sms_surveys, twilio_api, reply):
    inv_id = sent_invitation(app, client, admin)
    answer = reply("匿名 5")
    assert "匿名" not in answer  # no offer: it already is
    [row] = _responses(app)
    assert row.anonymous and row.invitation_id is None and row.customer_id is None
    assert row.answered_at.hour == 0 and row.answered_at.minute == 0
    with app.app_context():
        assert db.session.scalar(select(Conversation)).response_id == row.id  # only while open
    reply("很满意")
    [row] = _responses(app)
    assert row.reason == "很满意" and row.invitation_id is None
    assert _status(app, inv_id) == "answered"
    with app.app_context():
        assert db.session.scalar(select(Conversation)).response_id is None


def test_anon_after_the_score_cuts_the_link(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    reply("3")
    assert _responses(app)[0].invitation_id is not None
    assert reply("ANON").startswith("Your answer is now anonymous")
    [row] = _responses(app)
    assert row.anonymous and row.invitation_id is None and row.interaction_id is None
    reply("long wait")
    assert _responses(app)[0].reason == "long wait"


def test_anon_before_the_score_is_remembered(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    assert reply("anon").startswith("Your answer will be anonymous.")
    reply("4")
    assert _responses(app)[0].anonymous


def test_anon_on_a_survey_that_never_allows_it_records_nothing(app, client, admin, sms_surveys,
                                                              twilio_api, reply):
    client.patch("/api/v1/surveys/csat-call", headers=admin, json={"anonymity": "never"})
    inv_id = sent_invitation(app, client, admin, locale="en")
    assert reply("4 anon").startswith("This survey cannot take anonymous answers.")
    assert _responses(app) == [] and _status(app, inv_id) == "sent"


@pytest.mark.parametrize("word", ["STOP", "退订", "unsubscribe", "QUIT"])
def test_stop_opts_out_and_is_never_an_answer(app, client, admin, sms_surveys, twilio_api, reply, word):
    inv_id = sent_invitation(app, client, admin)
    assert "START" in reply(word)
    with app.app_context():
        [row] = db.session.scalars(select(OptOut)).all()
        assert (row.channel, row.address) == ("sms", PHONE)
    assert _responses(app) == [] and _status(app, inv_id) == "sent"


def test_stop_in_the_middle_ends_the_conversation(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    reply("4")
    reply("STOP")
    reply("this is not a reason any more")
    [row] = _responses(app)
    assert row.score == 4 and row.reason is None


def test_start_opts_back_in_and_help_explains(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    reply("STOP")
    assert reply("START").startswith("You can receive surveys by SMS again")
    with app.app_context():
        assert db.session.scalars(select(OptOut)).all() == []
    assert "STOP" in reply("HELP")
    assert _responses(app) == []


def test_reply_without_an_invitation_is_polite_and_records_nothing(app, client, twilio_api, reply):
    assert reply("5", phone="+15550009999") == (
        "Thank you for your message. There is no open survey for this number.")
    assert "问卷" in reply("五", phone="+15550009999")
    assert _responses(app) == []


def test_reply_after_expiry_is_polite_and_records_nothing(app, client, admin, sms_surveys, twilio_api,
                                                          reply):
    inv_id = sent_invitation(app, client, admin)
    with app.app_context():
        db.session.get(Invitation, inv_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert "已结束" in reply("5")
    assert _responses(app) == []


def test_same_message_sid_twice_records_once(app, client, admin, sms_surveys, twilio_api, reply):
    sent_invitation(app, client, admin, locale="en")
    assert reply("4", sid="SM" + "d" * 32) is not None
    assert reply("4", sid="SM" + "d" * 32) is None
    reply("slow", sid="SM" + "e" * 32)
    assert reply("slow", sid="SM" + "e" * 32) is None
    [row] = _responses(app)
    assert (row.score, row.reason) == (4, "slow")


def test_reply_goes_to_the_newest_open_invitation(app, client, admin, sms_surveys, twilio_api, reply):
    older = sent_invitation(app, client, admin, "call-1", locale="en")
    newer = sent_invitation(app, client, admin, "call-2", locale="en")
    reply("5")
    assert _status(app, newer) == "answered" and _status(app, older) == "sent"
    reply("2")  # a score while the newer waits for its reason: the older open one takes it
    assert _status(app, older) == "answered"
    reply("friendly agent")
    scores = {r.invitation_id: (r.score, r.reason) for r in _responses(app)}
    assert scores == {newer: (5, None), older: (2, "friendly agent")}


def test_closed_reason_window_forgets_the_answer_link(app, client, admin, sms_surveys, twilio_api,
                                                      reply):
    """Once the window passes, the conversation no longer knows which answer it led to."""
    from survey_service.answers.conversations import forget_closed

    inv_id = sent_invitation(app, client, admin)
    reply("5")
    with app.app_context():
        conv = db.session.scalar(select(Conversation).where(Conversation.invitation_id == inv_id))
        assert conv.response_id is not None and conv.state == "reason"
        assert forget_closed(utcnow()) == 0
        assert forget_closed(conv.open_until + timedelta(seconds=1)) == 1
        db.session.commit()
        db.session.refresh(conv)
        assert (conv.state, conv.response_id, conv.open_until) == ("closed", None, None)
    assert reply("too late for a reason") is not None
    assert _responses(app)[0].reason is None


def test_score_racing_another_answer_is_refused_and_records_nothing(app, client, admin, sms_surveys,
                                                                   twilio_api, reply):
    """Another answer lands while the SMS is read and written: the invitation keeps one answer."""
    import threading
    import time

    from sqlalchemy import update

    inv_id = sent_invitation(app, client, admin, locale="en")
    with app.app_context():
        other = db.engine.connect()
        transaction = other.begin()
        other.execute(update(Invitation).where(Invitation.id == inv_id)
                      .values(status="answered", answered_at=utcnow()))  # locked, not committed
        answers = []
        texting = threading.Thread(target=lambda: answers.append(reply("4")))
        texting.start()
        time.sleep(0.5)  # the reply has read the invitation as open and waits on its row
        assert texting.is_alive()
        transaction.commit()
        other.close()
        texting.join(timeout=30)
    assert answers == ["Your answer has already been recorded. Thank you!"]
    assert _responses(app) == [] and _status(app, inv_id) == "answered"


def test_sms_score_statement_stays_within_psycopg_parse_cache():
    """psycopg keeps the parsed form of statements up to 4 kB; a longer one is parsed every time."""
    from psycopg import _queries
    from sqlalchemy.dialects.postgresql import psycopg

    from survey_service.answers.sms import _sms_score

    sql = str(_sms_score.compile(dialect=psycopg.dialect())).encode()
    assert len(sql) <= _queries.MAX_CACHED_STATEMENT_LENGTH


def test_thanks_asks_the_surveys_own_reason_question_as_last_edited(app, client, admin, sms_surveys,
                                                                    twilio_api, reply):
    def ask(question: str) -> None:
        res = client.patch("/api/v1/surveys/csat-call", headers=admin,
                           json={"texts": {"zh-Hans": {"reason_prompt": question}}})
        assert res.status_code == 200, res.json

    ask("哪里做得好？")
    sent_invitation(app, client, admin)
    assert "哪里做得好？" in reply("5")
    ask("还有什么要告诉我们？")  # the next answer reads the edited survey, not a remembered one
    sent_invitation(app, client, admin, external_id="call-2", phone="+8613800138001")
    assert "还有什么要告诉我们？" in reply("4", phone="+8613800138001")
