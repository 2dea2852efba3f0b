"""Thin tasks: load by id, call one service function, own the retries."""

from __future__ import annotations

from celery import shared_task

from survey_service.answers.conversations import forget_closed
from survey_service.delivery.callbacks import reconcile_sending
from survey_service.delivery.service import send_invitation as deliver
from survey_service.delivery.service import send_reminder as remind
from survey_service.extensions import db
from survey_service.incentives import delivery as incentive_delivery
from survey_service.incentives.service import SEND_TASK, pending_sends
from survey_service.invitations.sweeper import sweep as run_sweep
from survey_service.reports.rollups import roll_up_all


@shared_task(name="survey.sweep", ignore_result=True)
def sweep() -> dict:
    """Claim due invitations and reminders and enqueue one send task for each (DESIGN.md 3, rule 1)."""
    return run_sweep(enqueue=lambda ids: [send_invitation.delay(i) for i in ids],
                     enqueue_reminders=lambda ids: [send_reminder.delay(i) for i in ids])


@shared_task(name="survey.send_invitation", ignore_result=True, acks_late=True)
def send_invitation(invitation_id: int) -> str:
    """Send one invitation at most once; transient errors reschedule the row, not the task."""
    return deliver(invitation_id)


@shared_task(name="survey.send_reminder", ignore_result=True, acks_late=True)
def send_reminder(invitation_id: int) -> str:
    """Send one pending reminder at most once; a transient error puts it back on the row, not the task."""
    return remind(invitation_id)


@shared_task(name="survey.reconcile", ignore_result=True)
def reconcile() -> int:
    """Settle invitations left in `sending` by asking the provider, never by resending (rule 2)."""
    settled = reconcile_sending()
    db.session.commit()
    return settled


@shared_task(name="survey.roll_up", ignore_result=True)
def roll_up() -> dict:
    """Count new answers into the score rollups; reports read what is not counted yet raw."""
    return roll_up_all()


@shared_task(name="survey.forget_conversations", ignore_result=True)
def forget_conversations() -> int:
    """Drop the answer link of conversations whose reason window closed (anonymity, DESIGN 5)."""
    forgotten = forget_closed()
    db.session.commit()
    return forgotten


@shared_task(name=SEND_TASK, bind=True, ignore_result=True, acks_late=True, max_retries=8)
def send_incentive(self, code_id: int) -> str:
    """Send one earned incentive code at most once; a transient error retries within a minute."""
    outcome = incentive_delivery.send_code(code_id)
    if outcome == "retry":
        if self.request.retries >= self.max_retries:
            incentive_delivery.give_up(code_id)
            return "failed"
        raise self.retry(countdown=min(60, 2 ** self.request.retries))
    return outcome


@shared_task(name="survey.sweep_incentives", ignore_result=True)
def sweep_incentives() -> int:
    """Enqueue the codes whose send task was lost (a broker down when they were earned)."""
    ids = pending_sends()
    for code_id in ids:
        send_incentive.delay(code_id)
    return len(ids)
