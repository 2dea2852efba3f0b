"""GET /api/v1/responses: pages cover each row once, even across out-of-order commits; CSV and NDJSON."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select, text, update

from survey_service.answers.models import Conversation, Response, new_response_id
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.reports.feed import neutralise
from survey_service.surveys.models import Survey

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def values_for(app, survey: str = "csat-call", **columns) -> dict:
    """Column values of one new response, for an INSERT on a connection of the test's own."""
    with app.app_context():
        s = db.session.execute(select(Survey.id, Survey.metric).where(Survey.key == survey)).one()
    return {"id": new_response_id(), "survey_id": s.id, "metric": s.metric, "score": 5, "channel": "sms",
            "answered_at": AT, **columns}


def all_pages(client, headers, limit=7, after=None, **query) -> tuple[list[dict], str | None]:
    """Every page from `after` on; the items and the cursor of the last full page seen."""
    items, last = [], after
    while True:
        params = {"limit": limit, **query, **({"after": last} if last else {})}
        res = client.get("/api/v1/responses", query_string=params, headers=headers)
        assert res.status_code == 200, res.json
        items += res.json["items"]
        if res.json["next_cursor"] is None:
            return items, last
        last = res.json["next_cursor"]


def test_paging_serves_every_row_exactly_once(client, reader, rows):
    ids = rows(300)
    items, _ = all_pages(client, reader, limit=7)
    assert sorted(i["id"] for i in items) == sorted(ids)
    assert len(items) == len(ids)


def test_last_page_has_no_cursor(client, reader, rows):
    rows(7)
    res = client.get("/api/v1/responses?limit=7", headers=reader)
    assert len(res.json["items"]) == 7 and res.json["next_cursor"] is None
    res = client.get("/api/v1/responses?limit=6", headers=reader)
    assert len(res.json["items"]) == 6 and res.json["next_cursor"] is not None


def test_filters(client, reader, rows):
    rows(2, agent_id="a-1", team="red", queue="billing", channel="email")
    rows(3, agent_id="a-2", team="blue", queue="sales")
    rows(1, survey="ces-chat", score=6, interaction_type="chat",
         answered_at=datetime(2026, 11, 5, tzinfo=UTC))

    def count(**query):
        res = client.get("/api/v1/responses", query_string={"limit": 1000, **query}, headers=reader)
        assert res.status_code == 200, res.json
        return len(res.json["items"])

    assert count() == 6
    assert count(agent="a-1") == 2 and count(team="blue") == 3 and count(queue="billing") == 2
    assert count(channel="email") == 2 and count(metric="ces") == 1 and count(survey="ces-chat") == 1
    assert count(**{"from": "2026-11-03T00:00:00+00:00"}) == 1
    assert count(to="2026-11-03T00:00:00+08:00") == 5
    res = client.get("/api/v1/responses?survey=nope", headers=reader)
    assert res.status_code == 404


def test_rows_and_anonymous_rows(app, client, reader, rows, seeded):
    with app.app_context():
        inter = Interaction(source="pbx", external_id="call-9", type="call", ended_at=AT,
                            request_hash="0" * 64)
        db.session.add(inter)
        db.session.commit()
        inter_id = inter.id
    named, = rows(1, customer_id="c-1", interaction_id=inter_id, reason="kind", agent_id="a-1",
                  locale="zh-Hans")
    anon, = rows(1, anonymous=True, answered_at=datetime(2026, 11, 2, tzinfo=UTC), agent_id="a-1")
    items = {i["id"]: i for i in client.get("/api/v1/responses", headers=reader).json["items"]}
    assert items[named] == {
        "id": named, "survey": "csat-call", "metric": "csat", "score": 4, "reason": "kind",
        "anonymous": False, "channel": "sms", "answer_channel": "sms", "source": "survey",
        "answered_at": "2026-11-02T09:30:00+00:00", "agent": "a-1",
        "team": None, "queue": None, "interaction_type": "call", "task": None, "locale": "zh-Hans",
        "customer_id": "c-1",
        "interaction": {"source": "pbx", "external_id": "call-9"}}
    assert items[anon]["answered_at"] == "2026-11-02"
    assert not {"customer_id", "interaction", "invitation", "invitation_id"} & set(items[anon])


@pytest.mark.parametrize("cursor", ["x", "!!!", base64.urlsafe_b64encode(b"12:").decode(),
                                    base64.urlsafe_b64encode(b"abc:def").decode(),
                                    base64.urlsafe_b64encode(b"99999999999999999999:a").decode()])
def test_a_bad_cursor_is_422_naming_after(client, reader, cursor):
    res = client.get("/api/v1/responses", query_string={"after": cursor}, headers=reader)
    assert res.status_code == 422
    assert "after" in res.json["errors"]["query"]


def test_keys_and_scopes(client, make_key):
    assert client.get("/api/v1/responses").status_code == 401
    assert client.get("/api/v1/responses", headers=make_key("interactions:write")).status_code == 403
    assert client.get("/api/v1/responses", headers=make_key("reports:read")).status_code == 200


def test_out_of_order_commits_are_served_exactly_once(app, client, reader, rows):
    """T1 (older, open) and T2 (newer, committed first): T2's row waits for T1; then both come once."""
    rows(4)
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    older, newer = values_for(app), values_for(app)
    try:
        t1, t2 = engine.connect(), engine.connect()
        t1.begin()
        t1.execute(insert(Response.__table__).values(**older))
        with t2.begin():
            t2.execute(insert(Response.__table__).values(**newer))
        page = client.get("/api/v1/responses?limit=3", headers=reader).json
        assert len(page["items"]) == 3 and page["next_cursor"]
        waiting, _ = all_pages(client, reader, limit=2, after=page["next_cursor"])
        assert len(waiting) == 1 and newer["id"] not in [i["id"] for i in waiting]  # above the horizon
        t1.commit()
        rest, _ = all_pages(client, reader, limit=2, after=page["next_cursor"])
        ids = [i["id"] for i in page["items"]] + [i["id"] for i in rest]
        assert len(ids) == len(set(ids)) == 6
        assert {older["id"], newer["id"]} <= set(ids)
    finally:
        t1.close()
        t2.close()
        engine.dispose()


def _conversation(app, response_id: str) -> int:
    """An SMS conversation in its reason step, linked to the response."""
    with app.app_context():
        inv = db.session.execute(select(Invitation.id)).scalar()
        conv = Conversation(invitation_id=inv, channel="sms", state="reason", response_id=response_id,
                            open_until=AT)
        db.session.add(conv)
        db.session.commit()
        return conv.id


def test_answers_in_their_reason_step_wait_until_it_closes(app, client, reader, rows, sent):
    """Held back while open; closing restamps the row, so it comes after cursors already served."""
    sent()
    pending, = rows(1)  # stored first: below every cursor that follows, but for the restamp
    conv = _conversation(app, pending)
    done = rows(3)
    items, cursor = all_pages(client, reader, limit=1)
    assert sorted(i["id"] for i in items) == sorted(done)
    with app.app_context():
        db.session.execute(update(Conversation).where(Conversation.id == conv)
                           .values(state="closed", response_id=None, open_until=None))
        db.session.commit()
    rest, _ = all_pages(client, reader, limit=1, after=cursor)
    assert [i["id"] for i in rest][-1] == pending
    assert [i["id"] for i in rest].count(pending) == 1


@pytest.mark.parametrize("cell, expected", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("fine", "fine"), ("", ""), ("a=b", "a=b")])
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_csv_streams_every_row_with_json_names(client, reader, rows):
    rows(1, reason="=HYPERLINK(\"http://x\")", customer_id="c-1")
    rows(1, anonymous=True, answered_at=datetime(2026, 11, 2, tzinfo=UTC), reason="-bad")
    rows(2500)
    res = client.get("/api/v1/responses?limit=1&after=bad", headers={**reader, "Accept": "text/csv"})
    assert res.status_code == 422  # the query is still checked
    res = client.get("/api/v1/responses?limit=1", headers={**reader, "Accept": "text/csv"})
    assert res.status_code == 200 and res.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert len(table) == 2502
    assert list(table[0]) == ["id", "survey", "metric", "score", "reason", "anonymous", "channel",
                              "answer_channel", "source", "answered_at", "agent", "team", "queue",
                              "interaction_type", "task", "locale", "customer_id", "interaction.source",
                              "interaction.external_id"]
    by_reason = {r["reason"]: r for r in table if r["reason"]}
    assert by_reason["'=HYPERLINK(\"http://x\")"]["customer_id"] == "c-1"
    anon = by_reason["'-bad"]
    assert anon["anonymous"] == "true" and anon["answered_at"] == "2026-11-02" and anon["customer_id"] == ""


def test_ndjson_streams_every_row(client, reader, rows):
    rows(1, anonymous=True, answered_at=datetime(2026, 11, 2, tzinfo=UTC))
    rows(1200, customer_id="c-2")
    res = client.get("/api/v1/responses", headers={**reader, "Accept": "application/x-ndjson"})
    assert res.status_code == 200 and res.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in res.get_data(as_text=True).splitlines()]
    assert len(lines) == 1201
    anon = next(row for row in lines if row["anonymous"])
    assert anon["answered_at"] == "2026-11-02" and "customer_id" not in anon
    assert sum(row.get("customer_id") == "c-2" for row in lines) == 1200


def test_streams_hold_back_reason_steps_too(app, client, reader, rows, sent):
    sent()
    rows(2)
    pending, = rows(1)
    _conversation(app, pending)
    res = client.get("/api/v1/responses", headers={**reader, "Accept": "application/x-ndjson"})
    ids = [json.loads(line)["id"] for line in res.get_data(as_text=True).splitlines()]
    assert len(ids) == 2 and pending not in ids


def test_the_feed_txid_is_stamped_by_the_database(app, rows):
    ids = rows(2)
    with app.app_context():
        txids = db.session.execute(text("SELECT feed_txid::text FROM responses WHERE id = ANY(:ids)"),
                                   {"ids": ids}).scalars().all()
    assert len(txids) == 2 and all(t.isdigit() for t in txids)


def test_the_migration_stamps_rows_stored_before_it(database_at):
    """0010 gives existing responses its own transaction id, then the column is NOT NULL."""
    from alembic import command

    config, engine = database_at("0007_reminders")
    with engine.begin() as conn:
        conn.execute(insert(Survey.__table__).values(id=1, key="k", name="n", metric="csat",
                                                     scale_min=1, scale_max=5))
        conn.execute(text("INSERT INTO responses (id, survey_id, metric, score, anonymous, channel, "
                          "answered_at) VALUES ('r1', 1, 'csat', 4, false, 'sms', now())"))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        stamped = conn.execute(text("SELECT feed_txid::text FROM responses")).scalars().all()
        nullable = conn.execute(text("SELECT is_nullable FROM information_schema.columns WHERE "
                                     "table_name = 'responses' AND column_name = 'feed_txid'")).scalar()
    command.downgrade(config, "0007_reminders")  # and back, trigger and function too
    command.upgrade(config, "head")
    assert len(stamped) == 1 and stamped[0].isdigit() and nullable == "NO"
