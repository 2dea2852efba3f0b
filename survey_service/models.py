"""Every model, imported in one place so that metadata (Alembic, create_all) sees all tables."""

from survey_service.agents.models import Agent
from survey_service.answers.models import Conversation, InboundMessage, Response
from survey_service.auth import ApiKey
from survey_service.delivery.models import OutboxMessage
from survey_service.incentives.models import IncentiveCode
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation, OptOut
from survey_service.reports.models import RollupMark, ScoreRollup
from survey_service.surveys.models import Survey

__all__ = ["Agent", "ApiKey", "Conversation", "InboundMessage", "IncentiveCode", "Interaction", "Invitation",
           "OptOut", "OutboxMessage", "Response", "RollupMark", "ScoreRollup", "Survey"]
