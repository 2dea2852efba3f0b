"""`survey-service import interactions|responses`: CSV and XLSX rows through the API's own rules.

Each test runs the real command (CliRunner) on the session's database, then reads the result back
through the API; bad rows are reported by line and field in the API's words and write nothing.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select, text

from survey_service.answers.models import Response
from survey_service.cli import main
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.interactions.models import Interaction
from survey_service.invitations.models import Invitation
from survey_service.reports import imports
from survey_service.surveys.models import Survey
from survey_service.surveys.service import seed_default_surveys
from tests.conftest import interaction

ENDED = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
ANSWERED = datetime(2026, 11, 2, 9, 30, 15, tzinfo=UTC)
URL = "/api/v1/interactions"


@pytest.fixture
def cli(app, pg_url, tmp_path, monkeypatch):
    """Run a command on the session's database (the `app` fixture's), as an operator would."""
    monkeypatch.setenv("SURVEY_DATABASE_URL", pg_url)
    monkeypatch.setenv("SURVEY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SURVEY_REDIS_URL", raising=False)

    def run(*args: str):
        return CliRunner().invoke(main, [str(a) for a in args])

    return run


@pytest.fixture
def reader(make_key):
    """Headers of a key with the reports:read scope."""
    return make_key("reports:read")


def flat(body: dict) -> dict:
    """An API body as a file row: nested fields dotted, attributes as attributes.<name>."""
    row = {}
    for name, value in body.items():
        if isinstance(value, dict):
            row.update({f"{name}.{k}": v for k, v in value.items() if v is not None})
        elif value is not None:
            row[name] = value
    return row


def write_csv(path, rows: list[dict], columns: list[str] | None = None, encoding: str = "utf-8"):
    """A CSV file of the rows under a header of `columns` (by default every key, in order)."""
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding=encoding) as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path, rows: list[dict], columns: list[str] | None = None):
    """A workbook as a spreadsheet program saves it; text that looks like a formula stays text."""
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(columns)
    for row in rows:
        cells = []
        for name in columns:
            cell = openpyxl.cell.WriteOnlyCell(sheet, value=row.get(name))
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    book.save(path)
    return path


def count(app, model, *where) -> int:
    """Rows of `model` in the database, under the conditions."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def invitations_of(client, admin, bodies: list[dict]) -> list[list[tuple]]:
    """Each interaction's invitations as the API shows them, without their ids."""
    out = []
    for body in bodies:
        res = client.get(f"{URL}/{body['source']}/{body['external_id']}", headers=admin)
        assert res.status_code == 200, res.json
        out.append([(i["survey"], i["channel"], i["status"], i["suppressed_reason"], i["due_at"] is None)
                    for i in res.json["invitations"]])
    return out


def empty_tables(app) -> None:
    """Every table emptied, the default surveys back: a fresh start for the same bodies."""
    with app.app_context():
        tables = ", ".join(t.name for t in reversed(db.metadata.sorted_tables))
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        seed_default_surveys()
        db.session.commit()


def report(result) -> list[tuple[int, str]]:
    """(line, field) of each refusal the command printed."""
    pairs = []
    for line in result.stdout.splitlines():
        if line.startswith("line "):
            where = line.split(":", 1)[0]
            number, name = where[5:].split(", ", 1)
            pairs.append((int(number), name))
    return pairs


# -- interactions ---------------------------------------------------------------------------------

GOOD = [
    interaction(external_id="g-1", ended_at=ENDED.isoformat()),
    interaction(external_id="g-2", type="chat", ended_at=ENDED.isoformat(),
                customer={"id": "c-2", "email": "zhang@example.com"}, agent={"id": "a-2"}),
    interaction(external_id="g-3", type="purchase", ended_at=ENDED.isoformat(),
                customer={"id": "c-3", "email": "chen@example.com", "locale": "zh-Hant"},
                order={"id": "o-1", "amount": "12.50", "currency": "CNY"}),
    # The same customer again within the throttle: suppressed, as the API would.
    interaction(external_id="g-4", ended_at=ENDED.isoformat(), agent={"name": '=HYPERLINK("http://x")'}),
]
BAD = [  # (body, the field the report names)
    (interaction(external_id="b-1", ended_at=ENDED.isoformat(), customer={"phone": "+1 555"}),
     "customer.phone"),
    (interaction(external_id="b-2", ended_at=ENDED.replace(tzinfo=None).isoformat()), "ended_at"),
    (interaction(external_id="b-3", ended_at=ENDED.isoformat(), type="fax"), "type"),
    (interaction(external_id="b-4", ended_at=ENDED.isoformat(), source="=cmd|'/C calc'!A0"), "source"),
    (interaction(external_id="b-5", ended_at=ENDED.isoformat(), agent={"name": "Wang\x00Fang"}),
     "agent.name"),
    (interaction(external_id="b-6", ended_at=ENDED.isoformat(), queue="q" * 129), "queue"),
    (interaction(external_id="b-7", ended_at=ENDED.isoformat(), attributes={"note": "x" * 1025}),
     "attributes"),
    (interaction(external_id="b-8", ended_at=ENDED.isoformat(),
                 order={"amount": "10.00", "currency": "ABC"}), "order.currency"),
]


def api_errors(client, admin, bodies: list[dict]) -> list[set[tuple[str, str]]]:
    """The (field, message) pairs the batch API refuses each body with (refused bodies write nothing)."""
    res = client.post(f"{URL}/batch", json={"items": bodies}, headers=admin)
    assert res.status_code == 200
    assert {item["status"] for item in res.json["items"]} == {422}
    return [set(imports.field_errors(item["body"]["errors"]["json"])) for item in res.json["items"]]


def test_a_csv_of_good_and_bad_rows_takes_the_good_ones_as_the_api_would(
        cli, app, client, admin, seeded, tmp_path):
    rows = [flat(b) for b in GOOD[:2]] + [flat(b) for b, _ in BAD] + [flat(b) for b in GOOD[2:]]
    path = write_csv(tmp_path / "calls.csv", rows, encoding="utf-8-sig")  # as Excel saves CSV UTF-8
    errors_file = tmp_path / "refused.csv"
    result = cli("import", "interactions", path, "--errors", errors_file)

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1].startswith(
        f"Imported 4 interactions (0 unchanged, 8 rejected) from {path} in ")
    lines = {field: line for line, field in report(result)}
    assert lines == {field: n + 4 for n, (_, field) in enumerate(BAD)}  # header 1, two good rows
    with open(errors_file, newline="", encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    expected = api_errors(client, admin, [b for b, _ in BAD])
    for n, pairs in enumerate(expected):
        assert {(r["field"], r["message"]) for r in written if int(r["line"]) == n + 4} == pairs
    assert not any(r["message"].startswith(("=", "+", "-", "@")) for r in written)

    assert count(app, Interaction) == 4
    with app.app_context():
        assert set(db.session.scalars(select(Interaction.external_id))) == {b["external_id"] for b in GOOD}
    stored = client.get(f"{URL}/pbx/g-4", headers=admin).json["interaction"]
    assert stored["agent"]["name"] == '=HYPERLINK("http://x")'  # text, as the API stores it
    imported = invitations_of(client, admin, GOOD)
    assert [i[0][2] for i in imported] == ["scheduled", "scheduled", "scheduled", "suppressed"]

    empty_tables(app)  # the same bodies through the API, in the same order
    res = client.post(f"{URL}/batch", json={"items": GOOD}, headers=admin)
    assert [item["status"] for item in res.json["items"]] == [201] * 4
    assert invitations_of(client, admin, GOOD) == imported


def test_an_xlsx_with_typed_cells_reads_as_the_api_expects(cli, app, client, admin, seeded, tmp_path):
    rows = [
        {"external_id": 12345, "source": "pbx", "type": "call", "ended_at": ENDED.isoformat(),
         "customer.id": 778, "customer.phone": "+8613800138000", "order.id": 9001, "order.amount": 12.5,
         "order.currency": "CNY", "attributes.campaign": "nov"},
        {"external_id": "x-2", "source": "pbx", "type": "call", "ended_at": ENDED.replace(tzinfo=None)},
        {"external_id": "x-3", "source": "pbx", "type": "chat", "ended_at": ENDED.isoformat(),
         "customer.email": "li@example.com", "order.amount": 3, "order.currency": "CNY"},
    ]
    path = write_xlsx(tmp_path / "calls.xlsx", rows)
    result = cli("import", "interactions", path)
    assert result.exit_code == 1, result.output
    assert report(result) == [(3, "ended_at")]
    assert "UTC offset" in result.stdout
    body = client.get(f"{URL}/pbx/12345", headers=admin).json["interaction"]
    assert body["customer"] == {"id": "778", "phone": "+8613800138000", "email": None, "locale": None,
                                "timezone": None}
    assert body["order"] == {"id": "9001", "amount": "12.50", "currency": "CNY"}
    assert body["attributes"] == {"campaign": "nov"}
    assert client.get(f"{URL}/pbx/x-3", headers=admin).json["interaction"]["order"]["amount"] == "3.00"
    assert count(app, Interaction) == 2


def test_a_second_run_changes_nothing_and_a_changed_row_is_a_conflict(cli, app, client, admin, seeded,
                                                                      tmp_path):
    path = write_csv(tmp_path / "calls.csv", [flat(b) for b in GOOD])
    assert cli("import", "interactions", path).exit_code == 0
    before = (count(app, Interaction), count(app, Invitation))
    again = cli("import", "interactions", path)
    assert again.exit_code == 0, again.output
    assert "Imported 0 interactions (4 unchanged, 0 rejected)" in again.stdout
    assert (count(app, Interaction), count(app, Invitation)) == before == (4, 4)

    changed = [flat(b) for b in GOOD]
    changed[1]["queue"] = "other"
    conflict = cli("import", "interactions", write_csv(tmp_path / "changed.csv", changed))
    assert conflict.exit_code == 1
    assert report(conflict) == [(3, "external_id")]
    api = client.post(URL, json={**GOOD[1], "queue": "other"}, headers=admin)
    assert api.status_code == 409 and api.json["message"] in conflict.stdout
    assert "Imported 0 interactions (3 unchanged, 1 rejected)" in conflict.stdout
    assert client.get(f"{URL}/pbx/g-2", headers=admin).json["interaction"]["queue"] == "billing"


def test_a_dry_run_reports_the_same_and_writes_nothing(cli, app, seeded, tmp_path):
    rows = [flat(b) for b in GOOD] + [flat(BAD[0][0])] + [flat(GOOD[0])]  # and a repeat, unchanged
    path = write_csv(tmp_path / "calls.csv", rows)
    result = cli("import", "interactions", path, "--dry-run")
    assert result.exit_code == 1
    assert report(result) == [(6, "customer.phone")]
    assert result.stdout.splitlines()[-1].startswith(
        "Dry run: would import 4 interactions (1 unchanged, 1 rejected)")
    assert (count(app, Interaction), count(app, Invitation)) == (0, 0)


@pytest.mark.parametrize(("name", "content", "named"), [
    ("calls.txt", "external_id\n", "'.txt'"),
    ("calls.csv", "", "empty"),
    ("calls.csv", "\n\n", "empty"),
    ("calls.csv", "external_id,customer.fax,source\n", "'customer.fax'"),
    ("calls.csv", "external_id,attributes.,source\n", "'attributes.'"),
    ("calls.csv", "external_id,external_id\n", "appears twice"),
    ("calls.csv", b"external_id\n\xff\xfe\n", "UTF-8"),
    ("calls.xlsx", "not a workbook", "XLSX"),
])
def test_a_file_it_cannot_read_is_a_usage_error_naming_why(cli, app, seeded, tmp_path, name, content,
                                                           named):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli("import", "interactions", path)
    assert result.exit_code == 2
    assert named in result.output
    assert count(app, Interaction) == 0


def test_a_missing_file_is_a_usage_error(cli, tmp_path):
    result = cli("import", "responses", tmp_path / "nowhere.csv")
    assert result.exit_code == 2 and "nowhere.csv" in result.output


def test_ten_thousand_spreadsheet_rows_with_their_bad_rows_reported(cli, app, seeded, tmp_path):
    rows = []
    for n in range(10_000):
        row = {"external_id": f"e-{n}", "source": "shop", "type": "purchase", "ended_at": ENDED.isoformat(),
               "customer.id": f"c-{n}", "customer.email": f"c{n}@example.com", "order.amount": 10 + n % 7,
               "order.currency": "CNY"}
        if n % 250 == 7:
            row["customer.email"] = "not-an-email"
        rows.append(row)
    path = write_xlsx(tmp_path / "orders.xlsx", rows)
    errors_file = tmp_path / "refused.csv"
    result = cli("import", "interactions", path, "--errors", errors_file)
    assert result.exit_code == 1
    assert "Imported 9,960 interactions (0 unchanged, 40 rejected)" in result.stdout
    shown = report(result)
    assert shown == [(n + 2, "customer.email") for n in range(7, 20 * 250, 250)]
    assert "and 20 more" in result.stdout
    with open(errors_file, newline="", encoding="utf-8") as f:
        assert [int(r["line"]) for r in csv.DictReader(f)] == [n + 2 for n in range(7, 10_000, 250)]
    assert count(app, Interaction) == 9_960
    assert count(app, Invitation, Invitation.status == "scheduled") == 9_960


# -- responses ------------------------------------------------------------------------------------


def answer(**overrides) -> dict:
    """A valid past answer as a file row; None drops a column's cell."""
    row = {"survey": "csat-call", "score": "4", "answered_at": ANSWERED.isoformat(), "agent": "a-7",
           "team": "t-1", "queue": "billing", "channel": "sms", "reason": "quick", "interaction_type": "call",
           "locale": "zh-Hans"}
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


RESPONSE_COLUMNS = list(imports.RESPONSE_COLUMNS)
BAD_ANSWERS = [
    (answer(score="6"), "score"),
    (answer(survey="nope"), "survey"),
    (answer(channel="fax"), "channel"),
    (answer(answered_at=ANSWERED.replace(tzinfo=None).isoformat()), "answered_at"),
    (answer(reason="bad\x00byte"), "reason"),
    (answer(agent="a" * 129), "agent"),
    (answer(score="four"), "score"),
    (answer(survey="aes-agent", anonymous="true"), "anonymous"),  # made `never` below
]


def test_past_answers_count_in_scores_and_the_feed_but_not_in_rates(
        cli, app, client, admin, reader, sent, tmp_path):
    token, _ = sent("live-1")  # one live invitation, answered: rates have something to count
    assert client.post("/api/v1/answers", json={"token": token, "score": 5}).status_code == 201
    assert client.patch("/api/v1/surveys/aes-agent", json={"anonymity": "never"},
                        headers=admin).status_code == 200
    rates_before = client.get("/api/v1/stats/response-rates?group_by=channel,survey", headers=reader).json
    good = [answer(id="t-1"), answer(id="t-2", score="2", reason='=HYPERLINK("http://x")'),
            answer(score="5", anonymous="yes", locale="en", channel="web", reason="kind"),
            answer(survey="ces-chat", score="7", channel="email", reason="easy")]
    rows = good[:2] + [b for b, _ in BAD_ANSWERS] + good[2:]
    path = write_csv(tmp_path / "past.csv", rows, RESPONSE_COLUMNS)
    result = cli("import", "responses", path)

    assert result.exit_code == 1, result.output
    assert report(result) == [(n + 4, name) for n, (_, name) in enumerate(BAD_ANSWERS)]
    assert "line 4, score: Score must be between 1 and 5." in result.stdout
    assert "Imported 4 responses (0 unchanged, 8 rejected)" in result.stdout
    assert count(app, Response, Response.source == "import") == 4
    assert count(app, Response, Response.source == "survey") == 1

    scores = client.get("/api/v1/scores?metric=csat&survey=csat-call", headers=reader).json["items"]
    assert scores[0]["n"] == 4 and scores[0]["distribution"] == {"2": 1, "4": 1, "5": 2}
    assert client.get("/api/v1/scores?metric=ces", headers=reader).json["items"][0]["n"] == 1
    feed = client.get("/api/v1/responses", headers=reader).json["items"]
    imported = {r["reason"]: r for r in feed if r["source"] == "import"}
    assert len(imported) == 4 and [r["source"] for r in feed].count("survey") == 1
    assert imported["quick"]["answered_at"] == ANSWERED.isoformat()
    assert imported['=HYPERLINK("http://x")']["score"] == 2  # stored as text; the CSV feed neutralises it
    anonymous = next(r for r in feed if r["anonymous"])
    assert anonymous["answered_at"] == "2026-11-02" and anonymous["channel"] == "web"
    assert anonymous["locale"] is None and "customer_id" not in anonymous
    with app.app_context():
        kept = db.session.execute(select(Response).where(Response.anonymous.is_(True))).scalar_one()
        assert kept.answered_at == datetime(2026, 11, 2, tzinfo=UTC)
        assert kept.invitation_id is kept.interaction_id is kept.customer_id is None
        assert "t-" not in kept.import_key and len(kept.import_key) == 64
    exported = client.get("/api/v1/responses", headers={**reader, "Accept": "text/csv"})
    exported = exported.get_data(as_text=True)
    assert "'=HYPERLINK" in exported

    rates_after = client.get("/api/v1/stats/response-rates?group_by=channel,survey", headers=reader).json
    assert rates_after == rates_before
    assert sum(r["responded"] for r in rates_after["items"]) == 1


def test_responses_from_xlsx_and_a_second_run_stores_each_once(cli, app, seeded, tmp_path):
    rows = [answer(id=501, score=4.0, anonymous=False), answer(score=3, anonymous=True),
            answer(score=5), answer(score=5),  # no id, the same values: one answer
            answer(answered_at=ANSWERED.replace(tzinfo=None), score=2)]
    path = write_xlsx(tmp_path / "past.xlsx", rows, RESPONSE_COLUMNS)
    first = cli("import", "responses", path)
    assert first.exit_code == 1, first.output
    assert report(first) == [(6, "answered_at")]
    assert "Imported 3 responses (1 unchanged, 1 rejected)" in first.stdout
    with app.app_context():
        assert db.session.scalar(select(Response.import_key).where(Response.score == 4)) == "501"
    second = cli("import", "responses", path)
    assert "Imported 0 responses (4 unchanged, 1 rejected)" in second.stdout
    assert count(app, Response) == 3

    rows[0]["score"] = 2  # the other tool's answer 501 again, with another score
    changed = cli("import", "responses", write_xlsx(tmp_path / "changed.xlsx", rows[:1], RESPONSE_COLUMNS))
    assert changed.exit_code == 1 and report(changed) == [(2, "id")]
    assert count(app, Response, Response.score == 4) == 1 and count(app, Response) == 3


def test_a_dry_run_of_responses_writes_nothing(cli, app, seeded, tmp_path):
    path = write_csv(tmp_path / "past.csv", [answer(), answer(score="3")], RESPONSE_COLUMNS)
    result = cli("import", "responses", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: would import 2 responses (0 unchanged, 0 rejected)" in result.stdout
    assert count(app, Response) == 0


def test_the_migration_gives_existing_answers_the_survey_source(database_at):
    """0013 marks answers stored before it as `survey`; it goes down and up again."""
    from alembic import command

    config, engine = database_at("0010_feed")
    with engine.begin() as conn:
        conn.execute(insert(Survey.__table__).values(id=1, key="k", name="n", metric="csat",
                                                     scale_min=1, scale_max=5))
        conn.execute(text("INSERT INTO responses (id, survey_id, metric, score, anonymous, channel, "
                          "answered_at) VALUES ('r1', 1, 'csat', 4, false, 'sms', now())"))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        sources = conn.execute(text("SELECT source, import_key FROM responses")).all()
    command.downgrade(config, "0010_feed")
    command.upgrade(config, "head")
    assert sources == [("survey", None)]


def test_answers_of_the_live_paths_keep_the_survey_source(app, sent, client):
    token, _ = sent("live-2")
    assert client.post("/api/v1/answers", json={"token": token, "score": 3}).status_code == 201
    assert count(app, Response, Response.source == "survey") == 1


def test_rejected_row_messages_are_numbered_and_capped(app):
    errors = [imports.RowError(n, "score", "bad") for n in range(2, 30)]
    lines = imports.error_lines(errors)
    assert lines[0] == "line 2, score: bad" and len(lines) == 21 and lines[-1] == "and 8 more"

