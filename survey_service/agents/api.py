"""/api/v1/agents (the directory, admin) and /api/v1/agent-effort (an agent's own effort answer)."""

from flask import g
from flask.views import MethodView
from flask_smorest import abort

from survey_service.agents import effort, service
from survey_service.agents.schemas import (
    AgentInSchema,
    AgentListQuerySchema,
    DirectoryAgentListSchema,
    DirectoryAgentSchema,
    EffortInSchema,
    EffortOutSchema,
)
from survey_service.answers import service as answers
from survey_service.auth import require
from survey_service.extensions import db
from survey_service.openapi import Blueprint

blp = Blueprint("agents", __name__, url_prefix="/api/v1",
                description="The agent directory, and agents' answers about their own effort (AES).")

MAX_AGENT_ID = 128


@blp.route("/agents")
class Agents(MethodView):
    @require("admin", "reports:read")
    @blp.arguments(AgentListQuerySchema, location="query")
    @blp.response(200, DirectoryAgentListSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Agents by id, filtered by team and active."""
        return {"items": [service.to_dict(a) for a in service.list_agents(**args)]}


@blp.route("/agents/<agent_id>")
class AgentById(MethodView):
    @require("admin", "reports:read")
    @blp.response(200, DirectoryAgentSchema)
    @blp.alt_response(404, description="No such agent.")
    @blp.doc(security=[{"bearer": []}])
    def get(self, agent_id):
        """One agent."""
        agent = service.get_agent(agent_id) if len(agent_id) <= MAX_AGENT_ID else None
        if agent is None:
            abort(404, message=f"No agent '{agent_id[:MAX_AGENT_ID]}'.")
        return service.to_dict(agent)

    @require("admin")
    @blp.arguments(AgentInSchema)
    @blp.response(200, DirectoryAgentSchema, description="Replaced.")
    @blp.alt_response(201, schema=DirectoryAgentSchema, description="Created.")
    @blp.doc(security=[{"bearer": []}])
    def put(self, data, agent_id):
        """Create or replace an agent's name, team, email, locale, timezone, active (intake keeps them)."""
        if len(agent_id) > MAX_AGENT_ID:
            abort(422, message="An agent id has at most 128 characters.",
                  errors={"path": {"agent_id": ["Longer than 128 characters."]}})
        agent, created = service.put_agent(agent_id, data)
        body = service.to_dict(agent)
        db.session.commit()
        return body, 201 if created else 200


@blp.route("/agent-effort")
class AgentEffort(MethodView):
    @require("agent")
    @blp.arguments(EffortInSchema)
    @blp.response(201, EffortOutSchema)
    @blp.alt_response(403, description="Not an agent key, or another agent's interaction.")
    @blp.alt_response(404, description="Unknown interaction.")
    @blp.alt_response(409, description="This interaction's effort survey was answered already.")
    @blp.alt_response(410, description="This interaction's effort survey has expired.")
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """The key's agent answers the effort survey about an interaction they handled, once, or a task."""
        agent_id = g.api_key.agent_id
        if "agent" not in g.api_key.scopes or not agent_id:
            abort(403, message="Only an agent key answers for an agent.")
        try:
            recorded = effort.answer_effort(agent_id, data)
        except (effort.EffortError, answers.AnswerError) as exc:
            db.session.rollback()
            if exc.status == 422 and exc.field:
                abort(422, errors={"json": {exc.field: [exc.message]}}, message=exc.message)
            abort(exc.status, message=exc.message)
        body = effort.effort_body(recorded.response_id)
        db.session.commit()
        answers.after_answer(recorded)
        return body
