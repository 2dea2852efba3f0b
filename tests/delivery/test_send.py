"""Sweep and send: atomic claims, one send per invitation, retries, SMTP and the outbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from survey_service.db import utcnow
from survey_service.delivery.models import OutboxMessage
from survey_service.delivery.service import send_invitation
from survey_service.extensions import db
from survey_service.invitations import service as invitations
from survey_service.invitations.models import Invitation
from survey_service.invitations.sweeper import sweep
from tests.conftest import interaction


def _intake(client, admin, **kw):
    body = interaction(external_id=kw.pop("external_id", "chat-1"), type="chat",
                       ended_at=(utcnow() - timedelta(hours=1)).isoformat(), **kw)
    res = client.post("/api/v1/interactions", json=body, headers=admin)
    assert res.status_code == 201, res.json
    return res.json["invitations"][0]["id"]


def _due_now(app, inv_id):
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_sweep_claims_each_due_row_once(client, admin, seeded, app):
    inv_id = _intake(client, admin, customer={"email": "li@example.com", "locale": "zh-Hans"})
    _due_now(app, inv_id)
    with app.app_context():
        enqueued = []
        assert sweep(enqueued.extend)["claimed"] == 1
        assert sweep(enqueued.extend)["claimed"] == 0
        assert enqueued == [inv_id]
        assert db.session.get(Invitation, inv_id).status == "queued"


def test_not_yet_due_is_not_claimed(client, admin, seeded, app):
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.due_at = utcnow() + timedelta(hours=1)
        db.session.commit()
        assert invitations.wake_due().claimed == []


def test_lost_queue_message_is_enqueued_again(client, admin, seeded, app):
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    _due_now(app, inv_id)
    with app.app_context():
        sweep(lambda ids: None)  # the broker lost this message
        inv = db.session.get(Invitation, inv_id)
        inv.queued_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        again = []
        assert sweep(again.extend)["requeued"] == 1
        assert again == [inv_id]


def test_email_is_sent_once_in_respondents_language(client, admin, seeded, app, smtp):
    inv_id = _intake(client, admin, customer={"email": "li@example.com", "locale": "zh-Hans"})
    _due_now(app, inv_id)
    with app.app_context():
        sweep(lambda ids: None)
        assert send_invitation(inv_id) == "sent"
        assert send_invitation(inv_id) == "skipped"
        inv = db.session.get(Invitation, inv_id)
        assert inv.status == "sent" and inv.token_hash and inv.provider_id
        assert inv.expires_at > utcnow() + timedelta(days=6)
    [msg] = smtp.messages
    assert msg["To"] == "li@example.com"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "公司让我轻松地解决了我的问题" in text and "公司让我轻松地解决了我的问题" in html
    assert text.splitlines()[:3] == ["客户服务", "",
                                     "您可以在问卷页面选择匿名作答：选择后，您的回答在保存时不会附带您的姓名、"
                                     "联系方式或确切时间。"]
    assert msg["Subject"] == "客户服务：请花几秒钟评价我们的服务"
    assert "客户服务" in str(msg["From"])  # the From name in the respondent's language
    for point in range(1, 8):
        assert "/s/" in html and f"?score={point}" in html
    assert "https://surveys.example.com/s/" in text


def test_smtp_4xx_retries_with_backoff_then_sends_once(client, admin, seeded, app, smtp):
    smtp.refuse = ["451 try later", "451 try later"]
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    _due_now(app, inv_id)
    with app.app_context():
        for _ in range(3):
            sweep(lambda ids: None)
            outcome = send_invitation(inv_id)
            inv = db.session.get(Invitation, inv_id)
            if outcome == "scheduled":
                assert inv.status == "scheduled" and inv.due_at > utcnow() - timedelta(seconds=1)
                _due_now(app, inv_id)
        assert outcome == "sent"
        assert db.session.get(Invitation, inv_id).attempts == 3
    assert len(smtp.messages) == 1


def test_smtp_5xx_fails_without_retry(client, admin, seeded, app, smtp):
    smtp.refuse = ["550 no such user"]
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    _due_now(app, inv_id)
    with app.app_context():
        sweep(lambda ids: None)
        send_invitation(inv_id)
        inv = db.session.get(Invitation, inv_id)
        assert inv.status == "failed" and inv.failure_reason == "smtp_550"
        assert invitations.wake_due().claimed == []
    assert smtp.messages == []


def test_unreachable_smtp_server_is_transient(client, admin, seeded, app):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1)
    app.extensions.pop("survey_channels", None)
    try:
        inv_id = _intake(client, admin, customer={"email": "li@example.com"})
        _due_now(app, inv_id)
        with app.app_context():
            sweep(lambda ids: None)
            assert send_invitation(inv_id) == "scheduled"
            assert db.session.get(Invitation, inv_id).failure_reason == "smtp_unreachable"
    finally:
        app.config.update(SMTP_HOST=None, SMTP_PORT=25)
        app.extensions.pop("survey_channels", None)


def test_without_smtp_host_the_outbox_keeps_the_message(client, admin, seeded, app):
    inv_id = _intake(client, admin, customer={"email": "li@example.com", "locale": "zh-Hant"})
    _due_now(app, inv_id)
    with app.app_context():
        sweep(lambda ids: None)
        assert send_invitation(inv_id) == "sent"
        [row] = db.session.scalars(select(OutboxMessage)).all()
        assert row.channel == "email" and row.invitation_id == inv_id
        assert "公司讓我輕鬆地解決了我的問題" in row.body_text


def test_expired_invitations_are_closed_by_the_sweep(client, admin, seeded, app):
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.status, inv.expires_at = "sent", utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert sweep(lambda ids: None)["expired"] == 1
        assert db.session.get(Invitation, inv_id).status == "expired"


def test_second_claim_of_the_same_row_sends_nothing(client, admin, seeded, app):
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    _due_now(app, inv_id)
    with app.app_context():
        sweep(lambda ids: None)
        first = invitations.claim_for_send(inv_id)
        db.session.commit()
        assert first is not None and first.token
        assert invitations.claim_for_send(inv_id) is None
        inv = db.session.get(Invitation, inv_id)
        assert inv.status == "sending" and inv.attempts == 1


def test_callback_before_mark_sent_keeps_the_later_status(client, admin, seeded, app):
    """A delivery callback can land between the provider call and mark_sent: it is not undone."""
    inv_id = _intake(client, admin, customer={"email": "li@example.com"})
    _due_now(app, inv_id)
    with app.app_context():
        sweep(lambda ids: None)
        invitations.claim_for_send(inv_id)
        db.session.commit()
        assert invitations.mark_delivered(inv_id)
        db.session.commit()
        assert invitations.mark_sent(inv_id, "prov-1") is False
        db.session.commit()
        inv = db.session.get(Invitation, inv_id)
        assert inv.status == "delivered"
        assert inv.provider_id == "prov-1" and inv.sent_at is not None
        assert invitations.mark_sent(inv_id, "prov-2") is False
        db.session.commit()
        db.session.refresh(inv)
        assert inv.provider_id == "prov-1"
