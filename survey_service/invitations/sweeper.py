"""The sweep: claim due rows, re-enqueue lost ones, expire old ones; the broker holds only ids."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations import service

# Passes per sweep at most: a backlog (a campaign expiring at once) drains in batches without
# holding up the next sweep for long.
MAX_PASSES = 20


def sweep(enqueue: Callable[[list[int]], object],
          enqueue_reminders: Callable[[list[int]], object] | None = None) -> dict:
    """Work through the rows whose wake time has come, a batch per transaction; each batch's claims
    commit before they are enqueued, so a lost message is found again later.

    Claimed reminders go to `enqueue_reminders`; without one they stay pending and a later sweep
    enqueues them again (invitations.wake.REQUEUE_AFTER).
    """
    totals = {"claimed": 0, "requeued": 0, "expired": 0, "reminders": 0}
    batch = current_app.config["SWEEP_BATCH"]
    for _ in range(MAX_PASSES):
        woke = service.wake_due(utcnow(), limit=batch)
        db.session.commit()
        ids = woke.claimed + woke.requeued
        if ids:
            enqueue(ids)
        if woke.reminders and enqueue_reminders is not None:
            enqueue_reminders(woke.reminders)
        totals["reminders"] += len(woke.reminders)
        totals["claimed"] += len(woke.claimed)
        totals["requeued"] += len(woke.requeued)
        totals["expired"] += woke.expired
        if woke.seen < batch:
            break
    return totals
