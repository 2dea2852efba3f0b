"""The agent directory: filled by intake in its own statement, completed and read through the API."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from survey_service.agents.models import Agent
from survey_service.db import constant, utcnow
from survey_service.extensions import db

FIELDS = ("name", "team", "email", "locale", "timezone", "active")
_agents = Agent.__table__


def directory_writes(stored, *, agent_id, name, team, now) -> tuple:
    """Intake's CTEs that keep the directory: add an unknown agent, fill a known one's empty name/team.

    `stored` is the CTE of the interaction's INSERT (they run only if it stored a row); the other
    arguments are intake's parameters. Neither takes a lock on an agent that needs nothing: the
    INSERT's conflict with a committed row does nothing, and the UPDATE matches only rows with an
    empty name or team that this interaction can fill, so names and teams an admin set (PUT) stay.
    """
    agent = agent_id
    added = (insert(_agents)
             .from_select(["id", "name", "team", "active", "created_at", "updated_at"],
                          select(agent, name, team, constant(True), now, now)
                          .select_from(stored).where(agent.isnot(None)))
             .on_conflict_do_nothing(index_elements=["id"])
             .cte("agent_added"))
    filled = (update(_agents)
              .where(and_(_agents.c.id == agent, stored.c.id.isnot(None),
                          or_(and_(_agents.c.name.is_(None), name.isnot(None)),
                              and_(_agents.c.team.is_(None), team.isnot(None)))))
              .values(name=func.coalesce(_agents.c.name, name), team=func.coalesce(_agents.c.team, team),
                      updated_at=now)
              .cte("agent_filled"))
    return added, filled


def get_agent(agent_id: str) -> Agent | None:
    """The directory's row for this agent id, if any."""
    return db.session.get(Agent, agent_id)


def put_agent(agent_id: str, data: dict) -> tuple[Agent, bool]:
    """Create or replace an agent's fields (omitted ones become empty, `active` true); True if created."""
    agent = get_agent(agent_id)
    created = agent is None
    if created:
        agent = Agent(id=agent_id, created_at=utcnow())
        db.session.add(agent)
    for name in FIELDS:
        setattr(agent, name, data.get(name, True if name == "active" else None))
    agent.updated_at = utcnow()
    db.session.flush()
    return agent, created


def list_agents(team: str | None = None, active: bool | None = None) -> list[Agent]:
    """Agents by id, only those of `team` and with `active` when given."""
    query = select(Agent).order_by(Agent.id)
    if team is not None:
        query = query.where(Agent.team == team)
    if active is not None:
        query = query.where(Agent.active.is_(active))
    return list(db.session.scalars(query))


def to_dict(agent: Agent) -> dict:
    """An agent as the API shows it."""
    return {"id": agent.id, **{name: getattr(agent, name) for name in FIELDS},
            "created_at": agent.created_at, "updated_at": agent.updated_at}
