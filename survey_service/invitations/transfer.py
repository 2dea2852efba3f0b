"""A caller put through to the IVR survey at the end of a call: the invitation this call answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import ANSWERABLE, Invitation, Status, answer_refusal
from survey_service.invitations.policy import Contact, Plan, plan_invitation, recently_invited
from survey_service.invitations.service import opted_out_pairs
from survey_service.invitations.wake import moved


@dataclass(frozen=True)
class OnTheCall:
    """A survey as the policy sees it for a caller already on the line: IVR only, asked now."""

    key: str
    channels: list[str]
    throttle_days: int
    sample_rate: float
    delay_seconds: int
    quiet_hours: dict | None
    timezone: str
    expires_after_seconds: int
    incentive: dict | None


def transfer_invitation(source: str, external_id: str, caller: str | None,
                        now: datetime | None = None) -> Invitation | None:
    """The invitation a transferred call answers, or None when there is none to ask.

    An open invitation of the interaction is used as it is; a scheduled or queued one is taken
    over by this call (and so never sent); with none, one is planned for the first IVR survey
    like every other invitation (opt-out, throttle, sampling, holdout), on this call, now.
    """
    from survey_service.interactions.service import find_interaction, matching_surveys

    now = now or utcnow()
    interaction = find_interaction(source, external_id)
    if interaction is None:
        return None
    surveys = [s for s in matching_surveys(interaction.type) if "ivr" in (s.channels or [])]
    surveys.sort(key=lambda s: (s.metric != "csat", s.id))
    by_survey = {inv.survey_id: inv for inv in interaction.invitations}
    for survey in surveys:
        inv = by_survey.get(survey.id)
        if inv is not None and answer_refusal(inv.status, inv.expires_at, now) is None:
            return inv
    address = caller or interaction.customer_phone
    for survey in surveys:
        inv = by_survey.get(survey.id)
        if inv is None:
            return _planned(interaction, survey, address, source, external_id, caller, now)
        if inv.status in ANSWERABLE:
            continue
        expires_at = now + timedelta(seconds=survey.expires_after_seconds)
        taken = db.session.execute(
            update(Invitation)
            .where(and_(Invitation.id == inv.id,
                        Invitation.status.in_([Status.SCHEDULED, Status.QUEUED])))
            .values(**moved(Status.SENT, sent_at=now, expires_at=expires_at, now=now),
                    channel="ivr", address=address, token_hash=None)
            .execution_options(synchronize_session=False)).rowcount == 1
        if taken:
            db.session.refresh(inv)
            return inv
    return None


def _planned(interaction: Interaction, survey, address: str | None, source: str, external_id: str,
             caller: str | None, now: datetime) -> Invitation | None:
    """A new invitation on this call as the policy plans it; a suppressed one is kept, not asked."""
    contact = Contact(phone=address, locale=interaction.customer_locale,
                      timezone=interaction.customer_timezone)
    plan: Plan = plan_invitation(
        survey=OnTheCall(survey.key, ["ivr"], survey.throttle_days, survey.sample_rate, 0, None,
                         survey.timezone, survey.expires_after_seconds, survey.incentive),
        contact=contact, ended_at=now, now=now, draw_key=f"{source}\x1f{external_id}",
        opted_out=opted_out_pairs(contact),
        recently_invited=recently_invited(survey.throttle_days, _last_invited(interaction, survey.id),
                                          now))
    answerable = plan.status == Status.SCHEDULED
    inv = Invitation(interaction_id=interaction.id, survey_id=survey.id, channel=plan.channel,
                     address=address if answerable else None,
                     locale=interaction.customer_locale or "en",
                     status=Status.SENT if answerable else Status.SUPPRESSED,
                     suppressed_reason=plan.suppressed_reason,
                     due_at=now if answerable else None, sent_at=now if answerable else None,
                     expires_at=plan.expires_at, incentive_offered=plan.incentive_offered,
                     holdout=plan.holdout)
    try:
        with db.session.begin_nested():
            db.session.add(inv)
    except IntegrityError:  # a concurrent transfer of the same call made it first
        db.session.expire(interaction)
        return transfer_invitation(source, external_id, caller, now)
    return inv if answerable else None


def _last_invited(interaction: Interaction, survey_id: int) -> datetime | None:
    """When this customer last had a non-suppressed invitation to the survey (for the throttle)."""
    who = [column == value for column, value in (
        (Interaction.customer_id, interaction.customer_id),
        (Interaction.customer_phone, interaction.customer_phone),
        (Interaction.customer_email, interaction.customer_email)) if value]
    if not who:
        return None
    return db.session.scalar(
        select(func.max(Invitation.created_at))
        .join(Interaction, Interaction.id == Invitation.interaction_id)
        .where(and_(or_(*who), Invitation.survey_id == survey_id,
                    Invitation.status != Status.SUPPRESSED)))
