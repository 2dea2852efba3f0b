"""`survey-service export responses`: the feed's rows and columns in CSV, NDJSON and XLSX, written whole."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from survey_service.cli import main
from survey_service.extensions import db, limiter
from survey_service.interactions.models import Interaction
from survey_service.reports import export, feed

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-2", "@x", "\tx", "\rx"]


@pytest.fixture
def run(app, pg_url, monkeypatch):
    """Invoke the command line on the test database; the session app's rate limiter is put back after."""
    monkeypatch.setenv("SURVEY_DATABASE_URL", pg_url)
    monkeypatch.delenv("SURVEY_REDIS_URL", raising=False)

    def invoke(*args: str):
        try:
            return CliRunner().invoke(main, list(args))
        finally:
            limiter._storage, limiter._limiter = app.limiter_state

    return invoke


@pytest.fixture
def mixed(app, rows):
    """A named answer with an interaction, an anonymous one (with links it must not show), and 1,200 more."""
    with app.app_context():
        inter = Interaction(source="pbx", external_id="call-9", type="call", ended_at=AT,
                            request_hash="0" * 64)
        db.session.add(inter)
        db.session.commit()
        inter_id = inter.id
    named, = rows(1, customer_id="c-1", interaction_id=inter_id, reason="kind, \"very\"\nkind",
                  agent_id="a-1", team="red", queue="billing", locale="zh-Hans")
    anon, = rows(1, anonymous=True, answered_at=datetime(2026, 11, 2, tzinfo=UTC), agent_id="a-1",
                 customer_id="c-secret", interaction_id=inter_id, reason="=1+1")
    rows(1200, customer_id="c-2", score=5)
    return named, anon


def api_csv(client, reader, **query) -> str:
    """The feed's CSV stream from the API."""
    res = client.get("/api/v1/responses", query_string=query, headers={**reader, "Accept": "text/csv"})
    assert res.status_code == 200
    return res.get_data(as_text=True)


def streamed(app, **filters) -> list[dict]:
    """Every row of feed.stream under the filters."""
    with app.app_context():
        return list(feed.stream(**filters))


def xlsx_table(path) -> list[list]:
    """The values of the first sheet of an XLSX file, row by row."""
    return [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)]


def as_csv_text(value) -> str:
    """An XLSX value written as the CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_is_the_feeds_csv_and_says_what_it_did(client, reader, mixed, run, tmp_path):
    expected = api_csv(client, reader)
    out = tmp_path / "answers.csv"
    result = run("export", "responses", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().decode() == expected  # same rows, order, neutralising and line ends
    assert len(list(csv.reader(io.StringIO(expected)))) == 1203
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"Exported 1,202 responses to {out} (csv) in ")
    assert summary.endswith(" s.")


def test_ndjson_is_the_feeds_stream(app, client, reader, mixed, run, tmp_path):
    out = tmp_path / "answers.ndjson"
    result = run("export", "responses", "--format", "ndjson", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == streamed(app)
    res = client.get("/api/v1/responses", headers={**reader, "Accept": "application/x-ndjson"})
    assert out.read_text(encoding="utf-8") == res.get_data(as_text=True)


def test_xlsx_has_the_feeds_rows_with_numbers_and_booleans(client, reader, mixed, run, tmp_path):
    named, anon = mixed
    expected = list(csv.reader(io.StringIO(api_csv(client, reader))))
    out = tmp_path / "answers.xlsx"
    result = run("export", "responses", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = xlsx_table(out)
    assert table[0] == list(feed.COLUMNS)
    assert [[as_csv_text(v) for v in row] for row in table] == expected
    by_id = {row[0]: dict(zip(feed.COLUMNS, row, strict=True)) for row in table[1:]}
    assert by_id[named]["score"] == 4 and by_id[named]["anonymous"] is False
    assert by_id[named]["interaction.external_id"] == "call-9"
    assert by_id[anon]["anonymous"] is True


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ndjson"])
def test_anonymous_rows_carry_only_what_the_feed_shows(mixed, run, tmp_path, fmt):
    _, anon = mixed
    out = tmp_path / f"answers.{fmt}"
    assert run("export", "responses", "--format", fmt, "--out", str(out)).exit_code == 0
    if fmt == "ndjson":
        row = next(json.loads(line) for line in out.read_text().splitlines() if anon in line)
        assert row["answered_at"] == "2026-11-02"
        assert not {"customer_id", "interaction", "invitation", "invitation_id"} & set(row)
        return
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    else:
        sheet = xlsx_table(out)
        table = [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]]
    row = next(r for r in table if r["id"] == anon)
    assert row["answered_at"] == "2026-11-02"
    assert not any(row[name] for name in ("customer_id", "interaction.source", "interaction.external_id"))
    assert "c-secret" not in (out.read_text(encoding="utf-8") if fmt == "csv" else str(sheet))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_looking_reasons_are_neutralised(rows, run, tmp_path, fmt):
    for reason in FORMULAS:
        rows(1, reason=reason, agent_id=reason, queue="\x01=CMD()")
    out = tmp_path / f"answers.{fmt}"
    result = run("export", "responses", "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(out.read_bytes().decode(), newline="")))
        reasons = sorted(r["reason"] for r in table)
        agents = sorted(r["agent"] for r in table)
    else:
        sheet = load_workbook(out).active
        header = [c.value for c in sheet[1]]
        body = list(sheet.iter_rows(min_row=2))
        assert all(c.data_type != "f" for row in body for c in row)  # no cell is a formula
        reasons = sorted(row[header.index("reason")].value for row in body)
        agents = sorted(row[header.index("agent")].value for row in body)
        queues = {row[header.index("queue")].value for row in body}
        assert queues == {"'=CMD()"}  # a control character XML cannot hold is dropped first
    assert sorted(reasons) == sorted(agents) == sorted("'" + reason for reason in FORMULAS)


@pytest.mark.parametrize("args, keywords", [
    (["--agent", "a-1"], {"agent": "a-1"}),
    (["--team", "blue"], {"team": "blue"}),
    (["--queue", "billing"], {"queue": "billing"}),
    (["--channel", "email"], {"channel": "email"}),
    (["--answer-channel", "web"], {"answer_channel": "web"}),
    (["--metric", "ces"], {"metric": "ces"}),
    (["--survey", "ces-chat"], {"survey_key": "ces-chat"}),
    (["--from", "2026-11-03T00:00:00+00:00"], {"start": datetime(2026, 11, 3, tzinfo=UTC)}),
    (["--to", "2026-11-03T00:00:00+08:00", "--agent", "a-2"],
     {"end": datetime(2026, 11, 2, 16, tzinfo=UTC), "agent": "a-2"}),
])
@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_filters_are_the_feeds(app, rows, run, tmp_path, args, keywords, fmt):
    rows(2, agent_id="a-1", team="red", queue="billing", channel="email", answer_channel="web")
    rows(3, agent_id="a-2", team="blue", queue="sales")
    rows(1, agent_id="a-2", answered_at=datetime(2026, 11, 2, 20, tzinfo=UTC))
    rows(1, survey="ces-chat", score=6, interaction_type="chat",
         answered_at=datetime(2026, 11, 5, tzinfo=UTC))
    expected = [r["id"] for r in streamed(app, **keywords)]
    assert 0 < len(expected) < 7
    out = tmp_path / f"answers.{fmt}"
    result = run("export", "responses", "--format", fmt, *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    if fmt == "csv":
        ids = [r["id"] for r in csv.DictReader(io.StringIO(text))]
    else:
        ids = [json.loads(line)["id"] for line in text.splitlines()]
    assert ids == expected
    assert f"Exported {len(expected)} responses" in result.stdout
    with app.app_context():
        assert export.count(**keywords) == len(expected)


@pytest.mark.parametrize("args, option", [
    (["--from", "2026-11-01T00:00:00"], "--from"),  # no offset
    (["--from", "yesterday"], "--from"),
    (["--to", "2026-13-01T00:00:00Z"], "--to"),
    (["--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z"], "--from"),
    (["--metric", "happiness"], "--metric"),
    (["--agent", "a\x00b"], "--agent"),
    (["--survey", "nope"], "--survey"),
    (["--format", "pdf"], "--format"),
])
def test_bad_options_exit_2_naming_the_option_and_write_nothing(rows, run, tmp_path, args, option):
    rows(3)
    out = tmp_path / "answers.csv"
    result = run("export", "responses", *(["--format", "csv"] if "--format" not in args else []), *args,
                 "--out", str(out))
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_reexport_replaces_the_file_whole(rows, run, tmp_path):
    out = tmp_path / "answers.csv"
    out.write_text("old contents\n")
    rows(5)
    assert run("export", "responses", "--format", "csv", "--out", str(out)).exit_code == 0
    first = out.read_text()
    assert first.startswith("id,survey,") and len(first.splitlines()) == 6
    rows(2)
    assert run("export", "responses", "--format", "csv", "--out", str(out)).exit_code == 0
    assert len(out.read_text().splitlines()) == 8
    assert [p.name for p in tmp_path.iterdir()] == ["answers.csv"]  # no temporary file left beside it


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ndjson"])
def test_a_failed_export_leaves_the_old_file_and_no_other(app, rows, tmp_path, fmt):
    rows(10)
    out = tmp_path / f"answers.{fmt}"
    out.write_bytes(b"the last good export")

    def failing():
        for n, row in enumerate(feed.stream()):
            if n == 5:
                raise RuntimeError("connection lost")
            yield row

    with app.app_context(), pytest.raises(RuntimeError):
        export.export(failing(), fmt, out)
    assert out.read_bytes() == b"the last good export"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_progress_is_told_of_every_row(app, rows, tmp_path):
    rows(2345)
    told: list[int] = []
    with app.app_context():
        written = export.export(feed.stream(), "ndjson", tmp_path / "a.ndjson", progress=told.append)
        total = export.count()
    assert written == total == sum(told) == 2345
    assert told == [1000, 1000, 345]


def test_an_unwritable_place_is_an_error_not_a_traceback(rows, run, tmp_path):
    rows(1)
    result = run("export", "responses", "--format", "csv", "--out", str(tmp_path / "no" / "such.csv"))
    assert result.exit_code == 1
    assert "could not write" in result.output and "Traceback" not in result.output
