"""The code goes out once on the invitation's channel, in the respondent's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from survey_service.delivery.models import OutboxMessage
from survey_service.extensions import db
from survey_service.incentives import delivery, service
from survey_service.invitations.models import OptOut
from tests.incentives.conftest import PHONE, REWARD, answer_json, stored_code

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _earn(app, client, offer, **kw) -> tuple[int, str]:
    token, inv_id = offer(**kw)
    res = answer_json(client, token)
    assert res.status_code == 201, res.json
    return inv_id, res.json["incentive_code"]


def _send(app, inv_id: int) -> str:
    with app.app_context():
        return delivery.send_code(stored_code(app, inv_id).id)


def _outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return rows


def test_an_email_invitation_gets_its_code_by_email_once_in_chinese(app, client, offer):
    inv_id, code = _earn(app, client, offer, locale="zh-Hans")
    assert _send(app, inv_id) == "sent"
    assert _send(app, inv_id) == "skipped"  # a second task for the same code sends nothing
    [mail] = _outbox(app)
    assert mail.channel == "email" and mail.to == "li@example.com"
    assert mail.subject == "您的答谢优惠码"
    assert code in mail.body_text and code in mail.body_html
    assert "您获得了下次订单九折优惠，优惠码：" in mail.body_text
    assert REWARD not in mail.body_text + mail.body_html and "reward" not in mail.body_text
    assert stored_code(app, inv_id).sent_at is not None


def test_the_english_email_states_the_surveys_reward(app, client, offer):
    inv_id, code = _earn(app, client, offer, locale="en")
    assert _send(app, inv_id) == "sent"
    [mail] = _outbox(app)
    assert f"You have earned {REWARD}: use code {code} by " in mail.body_text
    assert not CHINESE.search(mail.body_text + mail.subject)


def test_the_email_goes_through_smtp_as_text_and_html(app, client, offer, smtp):
    inv_id, code = _earn(app, client, offer, locale="zh-Hant")
    assert _send(app, inv_id) == "sent"
    [mail] = smtp.messages
    assert mail["Subject"] == "您的答謝優惠碼" and mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert code in text and code in html
    assert "您獲得了下次訂單九折優惠，優惠碼：" in text


def test_an_smtp_4xx_releases_the_claim_and_the_retry_sends_once(app, client, offer, smtp):
    inv_id, _ = _earn(app, client, offer)
    smtp.refuse = ["451 try later"]
    assert _send(app, inv_id) == "retry"
    assert stored_code(app, inv_id).sending_at is None
    assert _send(app, inv_id) == "sent"
    assert _send(app, inv_id) == "skipped"
    assert len(smtp.messages) == 1


def test_a_web_answer_to_an_sms_invitation_gets_its_code_by_sms(app, client, offer, twilio_api):
    inv_id, code = _earn(app, client, offer, channel="sms", locale="zh-Hans")
    assert _send(app, inv_id) == "sent"
    [message] = twilio_api.messages
    assert message["to"] == PHONE and code in message["body"]
    assert message["body"].startswith("感谢您的回答！您获得了下次订单九折优惠")
    assert message["status_callback"] is None  # the invitation's callback URL is not for this text
    assert _send(app, inv_id) == "skipped" and len(twilio_api.messages) == 1


def test_an_sms_answer_carries_the_code_in_its_reply_and_sends_no_other(app, client, offer,
                                                                        twilio_api, webhook):
    _, inv_id = offer(channel="sms", locale="zh-Hant")
    res = webhook("/twilio/sms", {"MessageSid": "SM" + "1" * 32, "From": PHONE, "Body": "5"})
    reply = res.get_data(as_text=True)
    code = stored_code(app, inv_id).code
    assert code in reply and "您獲得了下次訂單九折優惠，優惠碼：" in reply
    assert stored_code(app, inv_id).sent_at is not None
    with app.app_context():
        assert service.pending_sends() == []
    assert _send(app, inv_id) == "skipped" and twilio_api.messages == []
    # A retry of the same webhook is a no-op: no second code, no second reply text.
    again = webhook("/twilio/sms", {"MessageSid": "SM" + "1" * 32, "From": PHONE, "Body": "5"})
    assert code not in again.get_data(as_text=True)


def test_an_opted_out_address_gets_no_code_message(app, client, offer):
    inv_id, _ = _earn(app, client, offer)
    with app.app_context():
        db.session.add(OptOut(channel="email", address="li@example.com", reason="request"))
        db.session.commit()
    assert _send(app, inv_id) == "failed"
    assert _outbox(app) == [] and stored_code(app, inv_id).send_failure == "opted_out"


def test_a_code_whose_send_task_was_lost_is_found_by_the_sweep(app, client, offer):
    from datetime import timedelta

    inv_id, _ = _earn(app, client, offer)
    code_id = stored_code(app, inv_id).id
    with app.app_context():
        assert service.pending_sends() == []  # the answer's own task has had no time yet
        later = stored_code(app, inv_id).issued_at + timedelta(minutes=1)
        assert service.pending_sends(now=later) == [code_id]
        delivery.send_code(code_id)
        assert service.pending_sends(now=later) == []


@pytest.mark.parametrize("texts, locale, expected", [
    ({"zh-Hans": {"reward": "下次订单九折优惠"}}, "zh-Hans", "下次订单九折优惠"),
    ({"zh-Hans": {"reward": "下次订单九折优惠"}}, "zh-Hant", "下次订单九折优惠"),  # DESIGN 7's chain
    ({"zh-Hant": {"reward": "下次訂單九折優惠"}}, "zh-Hant", "下次訂單九折優惠"),
    ({}, "zh-Hans", "一份优惠"),  # never the English reward inside a Chinese sentence
    ({"en": {"reward": "free shipping"}}, "zh-Hant", "一份優惠"),
    ({}, "en", REWARD),
    ({"en": {"reward": "free shipping"}}, "en", "free shipping"),
    ({}, "fr", REWARD),
])
def test_the_reward_reads_in_the_respondents_language(texts, locale, expected):
    from survey_service.incentives.texts import reward_text

    assert reward_text(texts, {"reward": REWARD}, locale) == expected


def test_without_any_reward_text_english_reads_generic():
    from survey_service.incentives.texts import reward_text

    assert reward_text({}, None, "en") == "a reward"
