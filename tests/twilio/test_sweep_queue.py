"""The sweep's queue (wake_at) through an invitation's life, in batches, and HOT webhook updates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from survey_service.answers import service as answers
from survey_service.db import utcnow
from survey_service.delivery.callbacks import reconcile_sending
from survey_service.extensions import db
from survey_service.fastpath import unit_connection
from survey_service.invitations import service as invitations
from survey_service.invitations.models import Invitation
from survey_service.invitations.sweeper import sweep
from tests.twilio.conftest import deliver, intake, sent_invitation, stored_invitation
from tests.twilio.test_sms_conversation import PHONE


def test_wake_time_follows_an_sms_invitation_to_its_answer_and_is_then_cleared(
        app, client, admin, sms_surveys, twilio_api, webhook):
    inv_id = intake(client, admin)
    fresh = stored_invitation(app, inv_id)
    assert fresh.status == "scheduled" and fresh.wake_at == fresh.due_at

    assert deliver(app, inv_id) == "sent"
    sent = stored_invitation(app, inv_id)
    assert sent.wake_at == sent.expires_at > utcnow() + timedelta(days=1)

    sid = twilio_api.messages[0]["sid"]
    res = webhook("/twilio/sms/status", {"MessageSid": sid, "MessageStatus": "delivered"},
                  query=f"invitation={inv_id}")
    assert res.status_code == 204
    delivered = stored_invitation(app, inv_id)
    assert delivered.status == "delivered" and delivered.wake_at == sent.wake_at

    res = webhook("/twilio/sms", {"MessageSid": "SM" + "7" * 32, "From": PHONE, "Body": "5"})
    assert res.status_code == 200
    answered = stored_invitation(app, inv_id)
    assert answered.status == "answered" and answered.wake_at == sent.wake_at

    with app.app_context():
        assert invitations.wake_due(utcnow()).seen == 0  # nothing is due yet
        woke = invitations.wake_due(sent.expires_at + timedelta(seconds=1))
        db.session.commit()
        assert (woke.seen, woke.expired, woke.claimed) == (1, 0, [])
    cleared = stored_invitation(app, inv_id)
    assert cleared.status == "answered" and cleared.wake_at is None


def test_sweep_drains_more_than_one_batch_and_expiry_does_not_hold_up_claims(
        app, client, admin, sms_surveys, twilio_api):
    ids = [intake(client, admin, external_id=f"call-{n}", phone=f"+861380013800{n}")
           for n in range(5)]
    now = utcnow()
    with app.app_context():
        for n, inv_id in enumerate(ids):
            inv = db.session.get(Invitation, inv_id)
            if n < 3:  # an old backlog that expired long ago, ahead of the two due rows
                inv.status, inv.expires_at = "sent", now - timedelta(days=1, minutes=n)
            else:
                inv.due_at = now - timedelta(seconds=1)
        db.session.commit()
        batch = app.config["SWEEP_BATCH"]
        app.config["SWEEP_BATCH"] = 2
        try:
            enqueued: list[int] = []
            totals = sweep(enqueued.extend)
        finally:
            app.config["SWEEP_BATCH"] = batch
        assert totals == {"claimed": 2, "requeued": 0, "expired": 3, "reminders": 0}
        assert sorted(enqueued) == sorted(ids[3:])
        rows = {inv.id: inv for inv in db.session.scalars(select(Invitation))}
        assert [rows[i].status for i in ids] == ["expired"] * 3 + ["queued"] * 2
        assert all(rows[i].wake_at is None for i in ids[:3])
        assert all(rows[i].wake_at > now for i in ids[3:])


def test_rows_stuck_in_sending_take_turns_with_the_provider_lookup(app, client, admin, sms_surveys,
                                                                   twilio_api):
    first, second = (sent_invitation(app, client, admin, external_id=f"call-{n}",
                                     phone=f"+861380013801{n}") for n in range(2))
    long_ago = utcnow() - timedelta(hours=1)
    with app.app_context():
        for n, inv_id in enumerate((first, second)):
            inv = db.session.get(Invitation, inv_id)
            # No provider id: only the status callback can settle these, so each waits its turn.
            inv.status, inv.provider_id = "sending", None
            inv.sending_at = long_ago + timedelta(minutes=n)
        db.session.commit()
        assert reconcile_sending(limit=1) == 0
        db.session.commit()
        assert db.session.get(Invitation, first).wake_at > utcnow()
        looked_at = twilio_api.requests[:]
        assert reconcile_sending(limit=1) == 0
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Invitation, second).wake_at > utcnow()
        assert twilio_api.requests == looked_at  # nothing was resent


def _hot_updates() -> int:
    """HOT updates of invitations in the current transaction (PostgreSQL's own count)."""
    return db.session.scalar(text(
        "SELECT pg_stat_get_xact_tuples_hot_updated('invitations'::regclass)"))


def test_delivery_receipts_and_answers_rewrite_invitations_in_place(app, client, admin, sms_surveys,
                                                                     twilio_api):
    """No index covers a column these updates change: PostgreSQL can skip every index (HOT)."""
    inv_id = sent_invitation(app, client, admin)
    with app.app_context():
        before = _hot_updates()
        assert invitations.mark_delivered(inv_id)
        answers.record_answer(inv_id, answers.Answer(score=4, channel="web", anonymous=False))
        assert _hot_updates() - before == 2
        db.session.rollback()


def test_an_sms_score_rewrites_its_invitation_in_place(app, client, admin, sms_surveys, twilio_api):
    """The one-statement SMS score: its invitation update is HOT as well."""
    from survey_service.answers.sms import handle_sms

    sent_invitation(app, client, admin)
    with app.test_request_context():
        connection = unit_connection()
        connection.exec_driver_sql("BEGIN")  # the autocommit connection, in one transaction here
        try:
            count = "SELECT pg_stat_get_xact_tuples_hot_updated('invitations'::regclass)"
            before = connection.exec_driver_sql(count).scalar()
            reply = handle_sms("SM" + "8" * 32, PHONE, "4")
            assert "原因" in reply.text
            assert connection.exec_driver_sql(count).scalar() - before == 1
        finally:
            connection.exec_driver_sql("ROLLBACK")
