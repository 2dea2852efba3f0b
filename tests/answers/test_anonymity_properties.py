"""Anonymity holds for any customer: an anonymous answer keeps nothing that leads back to the person.

For generated customers (ids, phones, emails, reasons) answering on the web page or through the JSON
API, the stored row, every column of every table that could point at the answer, the 201 body and
the log lines hold neither the customer's id, phone or email, nor the invitation or interaction,
nor a time finer than the day.
"""

from __future__ import annotations

import itertools
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text

from survey_service.answers.models import Response
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from tests.answers.test_web import csrf_of
from tests.conftest import interaction, mark_sent

_numbers = itertools.count(10_000_000)

customers = st.fixed_dictionaries({
    "id": st.text("abcdefghijkmnpqrstuvwxyz0123456789-", min_size=6, max_size=24).map(lambda s: "c" + s),
    "email_local": st.text("abcdefghijklmnopqrstuvwxyz0123456789.", min_size=3, max_size=20)
    .filter(lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s),
    "reason": st.one_of(st.none(), st.text(min_size=1, max_size=80).filter(lambda s: "\x00" not in s
                                                                             and s.strip())),
    "path": st.sampled_from(["web", "json"]),
    "locale": st.sampled_from(["en", "zh-Hans", "zh-Hant"]),
})


def _invitation(app, client, admin, customer) -> tuple[str, int, int, str]:
    """An interaction for this customer and its sent invitation: (token, invitation, interaction, phone)."""
    n = next(_numbers)
    phone = f"+86138{n:08d}"
    person = {"id": customer["id"], "phone": phone, "email": f"{customer['email_local']}@example.com",
              "locale": customer["locale"]}
    res = client.post("/api/v1/interactions", headers=admin,
                      json=interaction(external_id=f"anon-{n}", customer=person))
    assert res.status_code == 201, res.json
    inv_id = res.json["invitations"][0]["id"]
    token = mark_sent(app, inv_id)
    with app.app_context():
        interaction_id = db.session.get(Invitation, inv_id).interaction_id
    return token, inv_id, interaction_id, phone


def _answer(client, token: str, customer: dict) -> dict | None:
    if customer["path"] == "json":
        res = client.post("/api/v1/answers", json={"token": token, "score": 4, "anonymous": True,
                                                   "reason": customer["reason"]})
        assert res.status_code == 201, res.json
        return res.json
    page = client.get(f"/s/{token}")
    form = {"csrf_token": csrf_of(page.get_data(as_text=True)), "score": "4", "anonymous": "y"}
    if customer["reason"]:
        form["reason"] = customer["reason"]
    res = client.post(f"/s/{token}", data=form, follow_redirects=True)
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    return None


def _rows_that_may_point_at(app, response_id: str) -> list[tuple[str, dict]]:
    """Every row of every table holding this response's id in any column, as (table, values)."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c.name for c in table.columns
                       if c.type.python_type is str] if table.name != "responses" else []
            for column in columns:
                rows = db.session.execute(text(
                    f'SELECT * FROM "{table.name}" WHERE "{column}"::text = :id'), {"id": response_id})
                found += [(table.name, dict(r._mapping)) for r in rows]
    return found


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(customer=customers)
def test_an_anonymous_answer_keeps_nothing_of_the_person(app, client, admin, seeded, caplog, customer):
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    token, inv_id, interaction_id, phone = _invitation(app, client, admin, customer)
    email = f"{customer['email_local']}@example.com"
    with app.app_context():
        before = set(db.session.scalars(select(Response.id)))
    body = _answer(client, token, customer)
    with app.app_context():
        [row] = [r for r in db.session.scalars(select(Response)) if r.id not in before]
        stored = {c.key: getattr(row, c.key) for c in inspect(Response).mapper.column_attrs}
        db.session.expunge_all()
    personal = (customer["id"], phone, phone.lstrip("+"), email, token)
    assert stored["anonymous"] is True
    assert (stored["invitation_id"], stored["interaction_id"], stored["customer_id"]) == (None, None, None)
    when = stored["answered_at"]
    assert (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0)
    for value in stored.values():
        assert not any(p in str(value) for p in personal), (value, personal)
    if body is not None:
        flat = str(body)
        assert not any(p in flat for p in personal)
        assert body["id"] == stored["id"] and "T" not in body["answered_at"]
        assert set(body) <= {"id", "survey", "metric", "score", "reason", "anonymous", "channel",
                             "answer_channel", "answered_at", "incentive_code"}
    # nothing in the database points from the answer back to its invitation or interaction
    assert _rows_that_may_point_at(app, stored["id"]) == []
    # no log line ties the answer to the person, the invitation or the interaction
    for record in caplog.records:
        line = record.getMessage()
        assert stored["id"] not in line
        assert not any(p in line for p in personal), line
        assert f"invitation {inv_id}" not in line and f"interaction {interaction_id}" not in line, line
