"""Thin tasks: load by id, call one service function, own the retries."""

from __future__ import annotations

from celery import shared_task

from survey_service.delivery.service import send_invitation as deliver
from survey_service.invitations.sweeper import sweep as run_sweep


@shared_task(name="survey.sweep", ignore_result=True)
def sweep() -> dict:
    """Claim due invitations and enqueue one send task for each (DESIGN.md section 3, rule 1)."""
    return run_sweep(enqueue=lambda ids: [send_invitation.delay(i) for i in ids])


@shared_task(name="survey.send_invitation", ignore_result=True, acks_late=True)
def send_invitation(invitation_id: int) -> str:
    """Send one invitation at most once; transient errors reschedule the row, not the task."""
    return deliver(invitation_id)
