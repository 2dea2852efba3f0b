"""The sweep: claim due rows, re-enqueue lost ones, expire old ones; the broker holds only ids."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations import service


def sweep(enqueue: Callable[[list[int]], object]) -> dict:
    """One pass; commits each claim before enqueueing, so a lost message is found again later."""
    now = utcnow()
    expired = service.expire_due(now)
    db.session.commit()
    claimed = service.claim_due(now, limit=current_app.config["SWEEP_BATCH"])
    db.session.commit()
    lost = service.reclaim_lost(now)
    db.session.commit()
    ids = claimed + lost
    if ids:
        enqueue(ids)
    return {"claimed": len(claimed), "requeued": len(lost), "expired": expired}
