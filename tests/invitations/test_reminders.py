"""Reminders: when they are due, how many, on which channel, and that they never beat an answer."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from survey_service.answers.models import Response
from survey_service.answers.service import Answer, record_answer
from survey_service.db import utcnow
from survey_service.delivery.messages import compose, context
from survey_service.delivery.service import send_reminder
from survey_service.extensions import db
from survey_service.invitations import service as invitations
from survey_service.invitations.models import Invitation
from survey_service.invitations.policy import QUIET_SPREAD_SECONDS
from survey_service.invitations.sweeper import sweep
from survey_service.invitations.tokens import find_by_token
from survey_service.invitations.wake import Woken, next_reminder, sweep_action
from tests.conftest import interaction
from tests.twilio.conftest import deliver, intake, sent_invitation, twilio_api  # noqa: F401

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
SPREAD = timedelta(seconds=QUIET_SPREAD_SECONDS)
NIGHT = {"start": "21:00", "end": "08:00"}


def _next(sent_at, *, reminder=None, reminders_sent=0, reminded_at=None, channel="sms", quiet=None,
          tz=None, survey_tz="UTC", inv_id=1):
    return next_reminder(inv_id, channel, reminder if reminder is not None else
                         {"after_seconds": 3600, "max": 2},
                         sent_at=sent_at, reminded_at=reminded_at, reminders_sent=reminders_sent,
                         quiet_hours=quiet, customer_timezone=tz, survey_timezone=survey_tz)


# -- the rule, pure ----------------------------------------------------------------------------------

SENT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_reminder_comes_after_seconds_after_the_send_then_after_the_last_reminder():
    assert _next(SENT) == SENT + HOUR
    assert _next(SENT, reminders_sent=1, reminded_at=SENT + HOUR) == SENT + 2 * HOUR
    assert _next(SENT, reminders_sent=2, reminded_at=SENT + 2 * HOUR) is None  # at most `max`


@pytest.mark.parametrize("reminder,channel", [
    ({"after_seconds": 3600, "max": 0}, "sms"), ({}, "sms"), ({"after_seconds": 60, "max": 3}, "ivr"),
])
def test_no_reminder_when_the_survey_has_none_or_the_channel_is_the_phone(reminder, channel):
    assert _next(SENT, reminder=reminder, channel=channel) is None


def test_a_reminder_due_at_night_moves_to_the_morning_across_midnight():
    """Sent at 20:30 in Shanghai, due 21:30: it goes between 08:00 and 08:10 the next day."""
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    sent = datetime(2026, 11, 23, 20, 30, tzinfo=shanghai).astimezone(UTC)
    due = _next(sent, quiet=NIGHT, tz="Asia/Shanghai")
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=shanghai)
    assert morning <= due < morning + SPREAD
    # After midnight, inside the same window: still that morning.
    late = datetime(2026, 11, 24, 0, 30, tzinfo=shanghai).astimezone(UTC) - HOUR
    assert morning <= _next(late, quiet=NIGHT, tz="Asia/Shanghai") < morning + SPREAD


def test_the_respondents_zone_decides_and_the_surveys_stands_in():
    sent = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)  # due 14:30 UTC = 22:30 in Shanghai
    assert _next(sent, quiet=NIGHT) == sent + HOUR  # the survey's UTC: daytime
    from zoneinfo import ZoneInfo

    morning = datetime(2026, 11, 24, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert morning <= _next(sent, quiet=NIGHT, tz="Asia/Shanghai") < morning + SPREAD
    assert morning <= _next(sent, quiet=NIGHT, survey_tz="Asia/Shanghai") < morning + SPREAD


def test_quiet_hours_across_the_new_york_dst_change():
    """The night of 1 November 2026 has 25 hours in New York: 08:00 EST is 13:00 UTC, not 12:00."""
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    sent = datetime(2026, 10, 31, 22, 0, tzinfo=new_york).astimezone(UTC)  # EDT, UTC-4
    due = _next(sent, quiet=NIGHT, tz="America/New_York")
    morning = datetime(2026, 11, 1, 8, 0, tzinfo=new_york)
    assert morning.utcoffset() == timedelta(hours=-5)
    assert morning <= due < morning + SPREAD
    assert datetime(2026, 11, 1, 13, 0, tzinfo=UTC) <= due
    # And spring forward: 8 March 2027, 08:00 EDT is 12:00 UTC.
    sent = datetime(2027, 3, 13, 23, 0, tzinfo=new_york).astimezone(UTC)
    spring = datetime(2027, 3, 14, 8, 0, tzinfo=new_york)
    assert spring.utcoffset() == timedelta(hours=-4)
    assert spring <= _next(sent, quiet=NIGHT, tz="America/New_York") < spring + SPREAD


def test_every_caller_draws_the_same_spread_for_the_same_reminder():
    """The send path and the sweep compute the time apart: they must agree."""
    sent = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)
    assert _next(sent, quiet=NIGHT, inv_id=7) == _next(sent, quiet=NIGHT, inv_id=7)


def _woken(status="sent", **kw):
    base = {"id": 1, "channel": "sms", "sent_at": SENT, "reminder": {"after_seconds": 3600, "max": 1},
            "survey_timezone": "UTC"}
    return Woken(status, None, None, SENT - HOUR, SENT + 24 * HOUR, **(base | kw))


def test_the_sweep_reminds_at_the_time_and_not_a_second_before():
    period = timedelta(minutes=5)
    assert sweep_action(_woken(), SENT + HOUR - SECOND, period) == ("sleep", SENT + HOUR)
    assert sweep_action(_woken(), SENT + HOUR, period)[0] == "remind"
    assert sweep_action(_woken("delivered"), SENT + HOUR, period)[0] == "remind"
    for final in ("answered", "expired", "failed"):
        assert sweep_action(_woken(final), SENT + HOUR, period) == ("sleep", None)
    # Claimed but its message lost: sent again once REQUEUE_AFTER has passed.
    queued = _woken(reminder_queued_at=SENT + HOUR)
    assert sweep_action(queued, SENT + HOUR + SECOND, period)[0] == "sleep"
    assert sweep_action(queued, SENT + HOUR + timedelta(minutes=2), period)[0] == "requeue_reminder"
    # Used up: the row sleeps until its expiry.
    assert sweep_action(_woken(reminders_sent=1), SENT + HOUR, period) == ("sleep", SENT + 24 * HOUR)


# -- the sweep and the send path, on PostgreSQL and the Twilio fake ----------------------------------

@pytest.fixture
def reminding(client, admin, seeded):
    """csat-call by SMS at once, reminded twice an hour apart, at any hour."""

    def configure(**changes):
        body = {"delay_seconds": 1, "quiet_hours": None, "throttle_days": 0,
                "reminder": {"after_seconds": 3600, "max": 2}} | changes
        res = client.patch("/api/v1/surveys/csat-call", headers=admin, json=body)
        assert res.status_code == 200, res.json

    configure()
    return configure


def _row(app, inv_id) -> Invitation:
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        db.session.expunge(inv)
        return inv


def _sweep_at(app, moment) -> list[int]:
    """One sweep at `moment`; returns the reminders it claimed."""
    with time_machine.travel(moment, tick=False), app.app_context():
        claimed: list[int] = []
        sweep(lambda ids: None, claimed.extend)
        return claimed


def _remind_at(app, moment, inv_id) -> str:
    with time_machine.travel(moment, tick=False), app.app_context():
        return send_reminder(inv_id)


def test_sms_reminders_go_at_their_time_at_most_max_and_keep_the_status(app, client, admin, reminding,
                                                                      twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin)
    sent = _row(app, inv_id)
    assert sent.wake_at == sent.sent_at + HOUR  # the row itself says when to look again
    assert _sweep_at(app, sent.sent_at + HOUR - SECOND) == []
    assert _sweep_at(app, sent.sent_at + HOUR) == [inv_id]
    assert _sweep_at(app, sent.sent_at + HOUR + SECOND) == []  # pending: claimed once
    first = sent.sent_at + HOUR + 2 * SECOND
    assert _remind_at(app, first, inv_id) == "sent"
    assert _remind_at(app, first, inv_id) == "skipped"  # a second task for it sends nothing

    with app.app_context():
        invitations.mark_delivered(inv_id)
        db.session.commit()
    reminded = _row(app, inv_id)
    assert (reminded.status, reminded.reminders_sent, reminded.reminded_at) == ("delivered", 1, first)
    assert reminded.wake_at == first + HOUR
    assert _sweep_at(app, first + HOUR - SECOND) == []
    assert _sweep_at(app, first + HOUR) == [inv_id]
    assert _remind_at(app, first + HOUR, inv_id) == "sent"
    done = _row(app, inv_id)
    assert (done.status, done.reminders_sent) == ("delivered", 2)
    assert done.wake_at == done.expires_at  # max reached: it only wakes to expire
    assert _sweep_at(app, first + 5 * HOUR) == []

    bodies = [m["body"] for m in twilio_api.messages]
    assert len(bodies) == 3
    assert all("温馨提醒：" in b for b in bodies[1:]), bodies
    assert not any("温馨提醒" in b for b in bodies[:1])
    assert [m["status_callback"] for m in twilio_api.messages[1:]] == [None, None]


def test_no_reminder_after_an_answer(app, client, admin, reminding, twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin)
    sent = _row(app, inv_id)
    with app.app_context():
        record_answer(inv_id, Answer(score=4, channel="web"))
        db.session.commit()
    assert _sweep_at(app, sent.sent_at + HOUR) == []
    answered = _row(app, inv_id)
    assert answered.wake_at is None and answered.answered_after_reminder is False
    assert len(twilio_api.messages) == 1


def test_no_reminder_after_expiry(app, client, admin, reminding, twilio_api):  # noqa: F811
    reminding(expires_after_seconds=1800)
    inv_id = sent_invitation(app, client, admin)
    sent = _row(app, inv_id)
    assert sent.wake_at == sent.expires_at
    assert _sweep_at(app, sent.sent_at + HOUR) == []
    assert _row(app, inv_id).status == "expired"
    # Nor one claimed just before expiry whose task runs after it.
    reminding(expires_after_seconds=3600 + 30)
    inv_id = sent_invitation(app, client, admin, external_id="call-2")
    sent = _row(app, inv_id)
    assert _sweep_at(app, sent.sent_at + HOUR) == [inv_id]
    assert _remind_at(app, sent.sent_at + HOUR + timedelta(seconds=31), inv_id) == "skipped"
    assert len(twilio_api.messages) == 2


def test_quiet_hours_move_the_reminders_wake_time(app, client, admin, reminding, twilio_api):  # noqa: F811
    """The first reminder would fall inside the night in Shanghai; the row wakes in the morning."""
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    evening = datetime.now(shanghai).replace(hour=20, minute=30, second=0, microsecond=0)
    with time_machine.travel(evening, tick=False):
        inv_id = intake(client, admin, timezone="Asia/Shanghai")
        reminding(quiet_hours=NIGHT)
        assert deliver(app, inv_id) == "sent"
    wake = _row(app, inv_id).wake_at
    morning = (evening + timedelta(days=1)).replace(hour=8, minute=0)
    assert morning <= wake < morning + SPREAD
    assert _sweep_at(app, wake - SECOND) == []
    assert _sweep_at(app, wake) == [inv_id]


def test_an_opted_out_number_gets_no_reminder(app, client, admin, reminding, twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin)
    sent = _row(app, inv_id)
    assert _sweep_at(app, sent.sent_at + HOUR) == [inv_id]
    with app.app_context():
        invitations.opt_out("sms", sent.address)
        db.session.commit()
    assert _remind_at(app, sent.sent_at + HOUR, inv_id) == "skipped"
    row = _row(app, inv_id)
    assert (row.status, row.reminders_sent, row.reminded_at) == ("sent", 1, None)
    assert len(twilio_api.messages) == 1


def test_a_transient_error_retries_the_reminder_and_a_permanent_one_fails_only_the_reminder(
        app, client, admin, reminding, twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin)
    due = _row(app, inv_id).sent_at + HOUR
    assert _sweep_at(app, due) == [inv_id]
    twilio_api.fail_next(1, 503)
    assert _remind_at(app, due, inv_id) == "retry"
    row = _row(app, inv_id)
    assert (row.status, row.reminders_sent, row.reminded_at, row.reminder_queued_at) == (
        "sent", 0, None, None)
    cap = app.config["RETRY_BACKOFF_MAX"]
    assert due + timedelta(seconds=cap / 2) <= row.wake_at <= due + timedelta(seconds=cap)
    assert _sweep_at(app, row.wake_at - SECOND) == []
    assert _sweep_at(app, row.wake_at) == [inv_id]
    twilio_api.fail_next(1, 400, 21610)  # the number opted out at the carrier
    assert _remind_at(app, row.wake_at, inv_id) == "refused"
    row = _row(app, inv_id)
    assert (row.status, row.reminders_sent, row.reminded_at) == ("sent", 1, None)
    with app.app_context():
        assert invitations.opted_out_pairs(invitations.Contact(phone=row.address)) == {
            ("sms", row.address)}
    assert len(twilio_api.messages) == 1


# -- an answer racing a reminder, on two connections --------------------------------------------------

def _in_thread(app, work):
    """Run `work` in its own app context (its own session and connection) and commit; returns the
    thread and a list that receives the result."""
    out: list = []

    def run():
        with app.app_context():
            out.append(work())
            db.session.commit()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_an_answer_committed_first_wins_and_the_reminder_claim_finds_nothing(app, client, admin,
                                                                            reminding, twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin)
    due = _row(app, inv_id).sent_at + HOUR
    with time_machine.travel(due, tick=False), app.app_context():
        record_answer(inv_id, Answer(score=5, channel="sms"))  # the row is locked, not committed
        claiming, claimed = _in_thread(app, lambda: invitations.claim_reminders([(inv_id, 0)], due))
        time.sleep(0.5)
        assert claiming.is_alive()  # the claim waits on the answer's row lock
        db.session.commit()
        claiming.join(timeout=30)
    assert claimed == [[]]
    assert _sweep_at(app, due) == []
    row = _row(app, inv_id)
    assert (row.status, row.reminders_sent, row.answered_after_reminder) == ("answered", 0, False)
    assert len(twilio_api.messages) == 1


def test_a_reminder_claimed_first_goes_once_and_the_answer_after_it_says_so(app, client, admin,
                                                                            reminding, twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin)
    due = _row(app, inv_id).sent_at + HOUR
    assert _sweep_at(app, due) == [inv_id]
    with time_machine.travel(due, tick=False), app.app_context():
        claim = invitations.claim_reminder(inv_id)  # locked, not committed
        answering, answered = _in_thread(
            app, lambda: record_answer(inv_id, Answer(score=5, channel="sms")).response_id)
        time.sleep(0.5)
        assert answering.is_alive()  # the answer waits on the reminder's claim
        db.session.commit()
        answering.join(timeout=30)
        from survey_service.delivery.registry import channel_for

        channel_for("sms").send(compose(claim))  # what send_reminder does after its commit
    row = _row(app, inv_id)
    assert (row.status, row.reminders_sent, row.answered_after_reminder) == ("answered", 1, True)
    with app.app_context():
        assert db.session.scalar(select(Response.id)) == answered[0]
    assert _sweep_at(app, due + HOUR) == []
    assert len(twilio_api.messages) == 2


# -- throttle, texts, email ------------------------------------------------------------------------

def test_reminders_do_not_count_against_the_throttle(app, client, admin, reminding, twilio_api):  # noqa: F811
    """The throttle counts invitations made; a reminder yesterday is none."""
    reminding(throttle_days=1, reminder={"after_seconds": 20 * 3600, "max": 1})
    start = utcnow()
    inv_id = sent_invitation(app, client, admin)
    remind = _row(app, inv_id).sent_at + 20 * HOUR
    assert _sweep_at(app, remind) == [inv_id]
    assert _remind_at(app, remind, inv_id) == "sent"

    def intake_at(moment, external_id):
        with time_machine.travel(moment, tick=False):
            body = interaction(external_id=external_id, ended_at=moment.isoformat(),
                               customer={"id": "c-1", "phone": "+8613800138000", "locale": "zh-Hans"})
            res = client.post("/api/v1/interactions", headers=admin, json=body)
            assert res.status_code == 201, res.json
            [inv] = [i for i in res.json["invitations"] if i["survey"] == "csat-call"]
            return inv["status"], inv["suppressed_reason"]

    assert intake_at(start + 23 * HOUR, "call-2") == ("suppressed", "throttled")
    assert intake_at(start + 25 * HOUR, "call-3") == ("scheduled", None)  # the reminder was at 20 h


def test_reminder_texts_in_three_languages(app, client, admin, reminding, twilio_api):  # noqa: F811
    expected = {"en": "Reminder: ", "zh-Hans": "温馨提醒：", "zh-Hant": "溫馨提醒："}
    for n, (locale, opening) in enumerate(expected.items()):
        inv_id = sent_invitation(app, client, admin, external_id=f"call-{n}", locale=locale)
        due = _row(app, inv_id).sent_at + HOUR
        _sweep_at(app, due)
        assert _remind_at(app, due, inv_id) == "sent"
        last_line = twilio_api.messages[-1]["body"].splitlines()[-1]
        assert last_line.startswith(opening), last_line
        if locale != "en":  # full-width punctuation in Chinese, in our words (the question is the survey's)
            texts = client.get("/api/v1/surveys/csat-call", headers=admin).json["texts"]
            question = (texts.get(locale) or texts["zh-Hans"])["question"]
            assert not set(",:!?()") & set(last_line.replace(question, "")), last_line


def test_email_reminder_through_smtp_with_its_subject_and_a_working_link(app, client, admin, seeded,
                                                                        smtp):
    res = client.patch("/api/v1/surveys/ces-chat", headers=admin,
                       json={"delay_seconds": 1, "quiet_hours": None,
                             "reminder": {"after_seconds": 3600, "max": 1}})
    assert res.status_code == 200, res.json
    body = interaction(external_id="chat-1", type="chat", ended_at=utcnow().isoformat(),
                       customer={"id": "c-2", "email": "li@example.com", "locale": "zh-Hant"})
    res = client.post("/api/v1/interactions", headers=admin, json=body)
    assert res.status_code == 201, res.json
    inv_id = res.json["invitations"][0]["id"]
    assert deliver(app, inv_id) == "sent"
    due = _row(app, inv_id).sent_at + HOUR
    assert _sweep_at(app, due) == [inv_id]
    assert _remind_at(app, due, inv_id) == "sent"
    first, reminder = smtp.messages
    brand = "客戶服務"  # the default brand, in Traditional Chinese
    assert first["Subject"] == f"{brand}：請花幾秒鐘評價我們的服務"
    assert reminder["Subject"] == f"{brand}溫馨提醒：請花幾秒鐘評價我們的服務"
    links = []
    for msg in (first, reminder):
        text = msg.get_body(("plain",)).get_content()
        links.append(text.split("/s/", 1)[1].split()[0].split("?")[0])
    assert links[0] != links[1]
    with app.app_context():
        assert [find_by_token(t).id for t in links] == [inv_id, inv_id]  # both links open it
    assert _row(app, inv_id).status == "sent"


def test_the_reminder_context_carries_its_line_for_the_email_templates(app, client, admin, reminding,
                                                                       twilio_api):  # noqa: F811
    inv_id = sent_invitation(app, client, admin, locale="zh-Hans")
    due = _row(app, inv_id).sent_at + HOUR
    _sweep_at(app, due)
    with time_machine.travel(due, tick=False), app.app_context():
        claim = invitations.claim_reminder(inv_id)
        ctx = context(claim)
        db.session.rollback()
    assert ctx["reminder"] is True
    assert ctx["reminder_line"] == "我们还没有收到您的评价。如果您方便，欢迎告诉我们这次的服务体验。"
