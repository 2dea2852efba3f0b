"""Data the benchmarks need inside the service's database: surveys, a key, open SMS invitations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from survey_service import create_app
from survey_service.auth import create_key
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.migrate import upgrade_database
from survey_service.surveys.service import seed_default_surveys

_app = None


def app():
    global _app
    if _app is None:
        _app = create_app()
        upgrade_database(_app)
    return _app


def prepare_service() -> str:
    """Migrate, seed, and return a fresh admin key."""
    with app().app_context():
        seed_default_surveys()
        _, key = create_key("bench", ["admin"])
        db.session.commit()
        return key


def open_sms_invitations(n: int, round_: int = 0) -> list[str]:
    """n sent SMS invitations of csat-call, each to its own number; returns the numbers."""
    from survey_service.interactions.models import Interaction
    from survey_service.invitations.models import Invitation
    from survey_service.surveys.models import Survey

    now = utcnow()
    phones = [f"+1{628 + round_}555{i:04d}" for i in range(n)]
    source = f"bench-sms-{round_}"
    with app().app_context():
        survey_id = db.session.scalar(select(Survey.id).where(Survey.key == "csat-call"))
        rows = [{"source": source, "external_id": f"s-{i}", "type": "call", "ended_at": now,
                 "customer_phone": p, "customer_locale": "en", "agent_id": f"a-{i % 50}",
                 "attributes": {}, "request_hash": "x"} for i, p in enumerate(phones)]
        db.session.execute(insert(Interaction), rows)
        ids = db.session.execute(select(Interaction.id, Interaction.customer_phone)
                                 .where(Interaction.source == source)).all()
        db.session.execute(insert(Invitation), [
            {"interaction_id": iid, "survey_id": survey_id, "channel": "sms", "address": phone,
             "locale": "en", "status": "sent", "sent_at": now, "due_at": now,
             "expires_at": now + timedelta(days=1), "wake_at": now + timedelta(days=1),
             "provider_id": f"SMbench{iid}"}
            for iid, phone in ids])
        db.session.commit()
    return phones


def answered_history(n: int) -> None:
    """n SMS invitations already answered, with their responses, conversations and inbound texts.

    A running service has these; without them the answer path would be measured against empty
    tables, whose plans (a scan of a table with no rows yet) PostgreSQL keeps while they fill up.
    """
    from survey_service.answers.models import Conversation, InboundMessage, Response
    from survey_service.answers.service import new_response_id
    from survey_service.invitations.models import Invitation

    phones = open_sms_invitations(n, round_=90)
    now = utcnow()
    with app().app_context():
        rows = db.session.execute(select(Invitation.id, Invitation.survey_id, Invitation.interaction_id)
                                  .where(Invitation.address.in_(phones))).all()
        db.session.execute(Invitation.__table__.update()
                           .where(Invitation.address.in_(phones))
                           .values(status="answered", answered_at=now))
        responses = [{"id": new_response_id(), "survey_id": survey_id, "metric": "csat",
                      "score": 1 + i % 5, "anonymous": False, "channel": "sms", "locale": "en",
                      "answered_at": now, "invitation_id": inv_id, "interaction_id": interaction_id}
                     for i, (inv_id, survey_id, interaction_id) in enumerate(rows)]
        db.session.execute(insert(Response), responses)
        db.session.execute(insert(Conversation), [
            {"invitation_id": r["invitation_id"], "channel": "sms", "state": "closed",
             "reprompts": 0, "wants_anonymous": False, "created_at": now} for r in responses])
        db.session.execute(insert(InboundMessage), [
            {"message_sid": f"SMhistory{i:024d}", "received_at": now} for i in range(2 * n)])
        db.session.commit()


def queued_sms_invitations(n: int, source: str, area: str = "628") -> list[int]:
    """n csat-call SMS invitations in `queued`, each to its own number, as the sweep leaves them."""
    from survey_service.interactions.models import Interaction
    from survey_service.invitations.models import Invitation
    from survey_service.surveys.models import Survey

    now = utcnow()
    with app().app_context():
        survey_id = db.session.scalar(select(Survey.id).where(Survey.key == "csat-call"))
        db.session.execute(insert(Interaction), [
            {"source": source, "external_id": f"{source}-{i}", "type": "call", "ended_at": now,
             "customer_phone": f"+1{area}{5550000 + i:07d}", "customer_locale": "en",
             "agent_id": f"a-{i % 50}", "attributes": {}, "request_hash": "x"} for i in range(n)])
        rows = db.session.execute(select(Interaction.id, Interaction.customer_phone)
                                  .where(Interaction.source == source).order_by(Interaction.id)).all()
        ids = db.session.scalars(insert(Invitation).returning(Invitation.id), [
            {"interaction_id": iid, "survey_id": survey_id, "channel": "sms", "address": phone,
             "locale": "en", "status": "queued", "queued_at": now, "due_at": now,
             "expires_at": now + timedelta(days=1)} for iid, phone in rows]).all()
        db.session.commit()
    return sorted(ids)


def sms_requests(n: int, round_: int = 0) -> list[dict] | None:
    """Signed inbound SMS answers, one per open invitation; None when the service has no SMS webhook."""
    flask_app = app()
    if not any(rule.rule == "/twilio/sms" for rule in flask_app.url_map.iter_rules()):
        return None
    from bench.common import signed_sms_requests

    return signed_sms_requests(open_sms_invitations(n, round_), round_,
                               flask_app.config["TWILIO_AUTH_TOKEN"], flask_app.config["PUBLIC_BASE_URL"])

