"""The send benchmark's baseline task: one UPDATE of an invitation row, in the same worker setup."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import text

from survey_service.extensions import db


@shared_task(name="bench.mark_sent", ignore_result=True, acks_late=True)
def mark_sent(invitation_id: int) -> str:
    """queued -> sent for one row and commit: the least a send task does besides composing and calling out."""
    db.session.execute(text("UPDATE invitations SET status = 'sent', sent_at = now() "
                            "WHERE id = :id AND status = 'queued'"), {"id": invitation_id})
    db.session.commit()
    return "sent"
