"""The baseline: a minimal Flask app that does one INSERT per request (same server, same database)."""

import os

from flask import Flask, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["SURVEY_DATABASE_URL"], pool_size=5)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/insert")
def insert():
    """Read the body, store one row, answer JSON: the least a webhook or intake can do."""
    payload = request.get_data(as_text=True)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO baseline_events (body) VALUES (:b)"), {"b": payload})
    return {"ok": True}, 201


def create_table() -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS baseline_events "
                          "(id bigserial PRIMARY KEY, body text NOT NULL)"))
