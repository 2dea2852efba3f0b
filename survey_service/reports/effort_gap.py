"""The effort gap: for the same interactions, the agent's AES beside the customer's CES and CSAT.

An interaction's group values are its own (team, queue) and the task its agent's answer named.
Each side counts the answers tied to interactions that ended in [start, end): an anonymous answer
keeps no interaction (DESIGN 5), so it is in neither side; `interactions` counts those with an
agent's answer and a customer's. Scores use the same rules and formulas as /api/v1/scores.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, func, literal, select, union_all

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.reports.scoring import Tally
from survey_service.reports.service import UnknownSurvey, _sort_key, _survey_rules
from survey_service.surveys.models import Survey

GROUP_KEYS = ("team", "queue", "task")
AGENT_METRIC = "aes"
CUSTOMER_METRICS = ("ces", "csat")
SIDES = (AGENT_METRIC, *CUSTOMER_METRICS)


class NotACustomerSurvey(ValueError):
    """The `survey` filter names a survey that is not a customer's CES or CSAT survey."""


def _agent_answers(start, end):
    """The agents' non-anonymous AES answers of interactions that ended in [start, end)."""
    return (select(Response.interaction_id, Response.task, Response.survey_id, Response.score)
            .join(Survey, Survey.id == Response.survey_id)
            .join(Interaction, Interaction.id == Response.interaction_id)
            .where(and_(Response.metric == AGENT_METRIC, Survey.respondent == "agent",
                        Response.interaction_id.isnot(None), *_ended(start, end)))
            .cte("agent_side"))


def _ended(start, end) -> list:
    return [c for c in (Interaction.ended_at >= start if start is not None else None,
                        Interaction.ended_at < end if end is not None else None) if c is not None]


def effort_gap(start: datetime | None = None, end: datetime | None = None, group_by=(),
               survey_key: str | None = None) -> list[dict]:
    """Rows by `group_by` (team, queue, task): `interactions` with both sides, and aes, ces and csat."""
    group_by = list(dict.fromkeys(group_by))
    unknown = [k for k in group_by if k not in GROUP_KEYS]
    if unknown:
        raise ValueError(f"unknown group key(s): {', '.join(unknown)}")
    rules = _survey_rules()
    survey_id = None
    if survey_key is not None:
        survey_id = next((sid for sid, (key, _) in rules.items() if key == survey_key), None)
        if survey_id is None:
            raise UnknownSurvey(survey_key)
        if rules[survey_id][1].metric not in CUSTOMER_METRICS:
            raise NotACustomerSurvey(f"Survey '{survey_key}' measures {rules[survey_id][1].metric}, "
                                     "not ces or csat.")
    agent = _agent_answers(start, end)
    # The task of each interaction, from its agent's answer (one per interaction and survey).
    tasks = (select(agent.c.interaction_id, func.min(agent.c.task).label("task"))
             .group_by(agent.c.interaction_id).cte("agent_task"))
    customer_where = [Response.metric.in_(CUSTOMER_METRICS), Survey.respondent == "customer",
                      Response.interaction_id.isnot(None), *_ended(start, end)]
    if survey_id is not None:
        customer_where.append(Response.survey_id == survey_id)
    customer = (select(Response.interaction_id, Response.metric, Response.survey_id, Response.score)
                .join(Survey, Survey.id == Response.survey_id)
                .join(Interaction, Interaction.id == Response.interaction_id)
                .where(and_(*customer_where)).cte("customer_side"))
    values = {"team": Interaction.team, "queue": Interaction.queue}

    def groups(task_column) -> list:
        return [(task_column if key == "task" else values[key]).label(f"g{i}")
                for i, key in enumerate(group_by)]

    agent_part = (select(*groups(agent.c.task), literal(AGENT_METRIC).label("metric"), agent.c.survey_id,
                         agent.c.score, agent.c.interaction_id)
                  .join(Interaction, Interaction.id == agent.c.interaction_id))
    customer_part = (select(*groups(tasks.c.task), customer.c.metric, customer.c.survey_id, customer.c.score,
                            customer.c.interaction_id)
                     .join(Interaction, Interaction.id == customer.c.interaction_id)
                     .outerjoin(tasks, tasks.c.interaction_id == customer.c.interaction_id))
    answers = union_all(agent_part, customer_part).subquery("answers")
    keys = [answers.c[f"g{i}"] for i in range(len(group_by))]
    counted = select(*keys, answers.c.metric, answers.c.survey_id, answers.c.score,
                     func.count().label("n")).group_by(*keys, answers.c.metric, answers.c.survey_id,
                                                       answers.c.score)
    sides = (select(*keys, answers.c.interaction_id,
                    func.bool_or(answers.c.metric == AGENT_METRIC).label("agent"),
                    func.bool_or(answers.c.metric != AGENT_METRIC).label("customer"))
             .group_by(*keys, answers.c.interaction_id).subquery("sides"))
    paired = (select(*(sides.c[f"g{i}"] for i in range(len(group_by))), func.count().label("n"))
              .where(and_(sides.c.agent, sides.c.customer))
              .group_by(*(sides.c[f"g{i}"] for i in range(len(group_by)))))

    tallies: dict[tuple, dict[str, Tally]] = defaultdict(lambda: {side: Tally() for side in SIDES})
    for row in db.session.execute(counted).mappings():
        group = tuple(row[f"g{i}"] for i in range(len(group_by)))
        tallies[group][row["metric"]].add(row["score"], rules[row["survey_id"]][1], int(row["n"]))
    both = {tuple(row[f"g{i}"] for i in range(len(group_by))): int(row["n"])
            for row in db.session.execute(paired).mappings()}

    rows = []
    for group in sorted(tallies, key=lambda g: _sort_key(g, None, False)):
        row: dict = dict(zip(group_by, group, strict=True))
        row["interactions"] = both.get(group, 0)
        for side, tally in tallies[group].items():
            summary = tally.summary(side)
            row[side] = {name: summary[name] for name in ("n", "score", "ci95", "small_sample")}
        rows.append(row)
    return rows
