"""Fixtures for ab_bench.py, run in a subprocess with one revision's checkout first on PYTHONPATH.

It uses only what every revision has: create_app, upgrade_database, the Invitation and Survey
models and the HTTP API; other models are used when they import, and otherwise the data goes
through the HTTP API (interactions) or is left out (answered history). Nothing here imports bench.*,
so the revision's survey_service is the one loaded. One command per run; its JSON result is the
last line of stdout.

    python bench/ab_fixtures.py prepare '{"history": 10000}'
    python bench/ab_fixtures.py sms '{"n": 20000, "round": 0, "out": "sms0.json"}'
    python bench/ab_fixtures.py queued '{"batches": [["bench-send-0", 1000, 600]], "out": "ids.json"}'
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

import survey_service
from survey_service import create_app
from survey_service.invitations.models import Invitation
from survey_service.surveys.models import Survey

_app = None


def app():
    global _app
    if _app is None:
        _app = create_app()
    return _app


def db():
    """The Flask-SQLAlchemy handle, found through the app rather than a module path."""
    return app().extensions["sqlalchemy"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def interaction_model():
    """The Interaction model, or None when this revision keeps it elsewhere."""
    try:
        from survey_service.interactions.models import Interaction
    except ImportError:
        return None
    return Interaction


def prepare(spec: dict) -> dict:
    """Migrate with this revision's Alembic scripts, seed the surveys, make an admin key, store history."""
    from survey_service.migrate import upgrade_database

    upgrade_database(app())
    with app().app_context():
        from survey_service.auth import create_key
        from survey_service.surveys.service import seed_default_surveys

        seed_default_surveys()
        _, key = create_key("bench", ["admin"])
        db().session.commit()
    history = answered_history(spec.get("history", 0), key) if spec.get("history") else 0
    has_sms = any(rule.rule == "/twilio/sms" for rule in app().url_map.iter_rules())
    return {"key": key, "file": survey_service.__file__, "history": history, "sms_webhook": has_sms}


def _through_api(phones: list[str], source: str, key: str) -> None:
    """One call interaction per phone through POST /api/v1/interactions: the intake makes the invitations."""
    client = app().test_client()
    ended = (utcnow() - timedelta(minutes=5)).isoformat()
    for i, phone in enumerate(phones):
        response = client.post("/api/v1/interactions", headers={"Authorization": f"Bearer {key}"}, json={
            "external_id": f"{source}-{i}", "source": source, "type": "call", "ended_at": ended,
            "customer": {"id": f"c-{source}-{i}", "phone": phone, "locale": "en"},
            "agent": {"id": f"a-{i % 50}"}})
        if response.status_code >= 300:
            raise SystemExit(f"intake refused a fixture: {response.status_code} {response.get_data(True)}")


def invitations(phones: list[str], source: str, status: str, key: str | None = None) -> list[int]:
    """csat-call SMS invitations to `phones` in `status` (sent: open for an answer; queued: to send)."""
    Interaction = interaction_model()
    now = utcnow()
    sent = status == "sent"
    session = db().session
    with app().app_context():
        survey_id = session.scalar(select(Survey.id).where(Survey.key == "csat-call"))
        if Interaction is None:
            if key is None:
                raise SystemExit("no Interaction model in this revision and no API key to use the intake")
            _through_api(phones, source, key)
            ids = session.scalars(select(Invitation.id).where(Invitation.address.in_(phones))
                                  .order_by(Invitation.id)).all()
            session.execute(update(Invitation).where(Invitation.id.in_(ids)).values(
                status=status, due_at=now, expires_at=now + timedelta(days=1),
                **({"sent_at": now, "wake_at": now + timedelta(days=1)} if sent else {"queued_at": now})))
            session.commit()
            return list(ids)
        session.execute(insert(Interaction), [
            {"source": source, "external_id": f"{source}-{i}", "type": "call", "ended_at": now,
             "customer_phone": phone, "customer_locale": "en", "agent_id": f"a-{i % 50}",
             "attributes": {}, "request_hash": "x"} for i, phone in enumerate(phones)])
        rows = session.execute(select(Interaction.id, Interaction.customer_phone)
                               .where(Interaction.source == source).order_by(Interaction.id)).all()
        extra = ({"sent_at": now, "wake_at": now + timedelta(days=1)} if sent else {"queued_at": now})
        ids = session.scalars(insert(Invitation).returning(Invitation.id), [
            {"interaction_id": iid, "survey_id": survey_id, "channel": "sms", "address": phone,
             "locale": "en", "status": status, "due_at": now, "expires_at": now + timedelta(days=1),
             **({"provider_id": f"SMbench{iid}"} if sent else {}), **extra}
            for iid, phone in rows]).all()
        session.commit()
        return sorted(ids)


def answered_history(n: int, key: str) -> int:
    """n answered SMS invitations with responses, conversations and inbound texts, as bench/fixtures.py
    stores them (a running service's steady state); 0 when this revision's models differ."""
    try:
        from survey_service.answers.models import Conversation, InboundMessage, Response
        from survey_service.answers.service import new_response_id
    except ImportError:
        return 0
    phones = [f"+1718555{i:05d}" for i in range(n)]
    ids = invitations(phones, "bench-history", "sent", key)
    now = utcnow()
    session = db().session
    with app().app_context():
        rows = session.execute(select(Invitation.id, Invitation.survey_id, Invitation.interaction_id)
                               .where(Invitation.id.in_(ids))).all()
        session.execute(update(Invitation).where(Invitation.id.in_(ids))
                        .values(status="answered", answered_at=now))
        responses = [{"id": new_response_id(), "survey_id": survey_id, "metric": "csat",
                      "score": 1 + i % 5, "anonymous": False, "channel": "sms", "locale": "en",
                      "answered_at": now, "invitation_id": inv_id, "interaction_id": interaction_id}
                     for i, (inv_id, survey_id, interaction_id) in enumerate(rows)]
        session.execute(insert(Response), responses)
        session.execute(insert(Conversation), [
            {"invitation_id": r["invitation_id"], "channel": "sms", "state": "closed",
             "reprompts": 0, "wants_anonymous": False, "created_at": now} for r in responses])
        session.execute(insert(InboundMessage), [
            {"message_sid": f"SMhistory{i:024d}", "received_at": now} for i in range(2 * n)])
        session.commit()
    return n


def sms(spec: dict) -> dict:
    """Open SMS invitations and the signed inbound answers to them (Twilio's twenty form parameters),
    written to spec["out"] as items for http_bench.write_script."""
    from bench.common import signed_sms_requests

    n, round_ = spec["n"], spec["round"]
    phones = [f"+1{628 + round_}555{i:04d}" for i in range(n)]
    invitations(phones, f"bench-sms-{round_}", "sent", spec.get("key"))
    cfg = app().config
    items = signed_sms_requests(phones, round_, cfg["TWILIO_AUTH_TOKEN"], cfg["PUBLIC_BASE_URL"])
    Path(spec["out"]).write_text(json.dumps(items))
    return {"items": len(items)}


def queued(spec: dict) -> dict:
    """Batches of queued csat-call SMS invitations, as the sweep leaves them; ids per batch to spec["out"]."""
    out = {}
    for source, n, area in spec["batches"]:
        phones = [f"+1{area}{5550000 + i:07d}" for i in range(n)]
        out[source] = invitations(phones, source, "queued", spec.get("key"))
    Path(spec["out"]).write_text(json.dumps(out))
    return {"batches": len(out)}


def main() -> None:
    command, spec = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = {"prepare": prepare, "sms": sms, "queued": queued}[command](spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
