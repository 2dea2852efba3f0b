"""Imports: interactions, and past answers from another tool, read from CSV or XLSX files row by row.

Each interaction row goes through the intake's own schema and service function, exactly as one item
of POST /api/v1/interactions/batch would; each answer row through ImportedResponseSchema and the
answer rules (scale, anonymity, kept time). A file's rows are written in batches, one transaction
each, every row in a savepoint of its own (fastpath.BatchUnits): a refused row writes nothing and
keeps nothing of the others from being written. A dry run does all of it in one transaction and
rolls it back. Re-running a file changes nothing: an interaction comes back as a replay, an answer
by its import key.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import and_, select, text
from sqlalchemy.dialects.postgresql import insert

from survey_service.answers.models import Response, new_response_id
from survey_service.answers.rules import InScale, KeptTime, RefusesAnonymity, StoredAnonymous
from survey_service.answers.service import AnswerError, clean_reason
from survey_service.extensions import db
from survey_service.fastpath import BatchUnits
from survey_service.interactions import service as intake
from survey_service.interactions.schemas import InteractionSchema
from survey_service.reports.feed import neutralise
from survey_service.reports.schemas import ImportedResponseSchema
from survey_service.surveys.models import Survey

log = logging.getLogger(__name__)

INTERACTION_COLUMNS = ("external_id", "source", "type", "ended_at", "customer.id", "customer.phone",
                       "customer.email", "customer.locale", "customer.timezone", "agent.id", "agent.name",
                       "agent.team", "queue", "order.id", "order.amount", "order.currency")
ATTRIBUTE_PREFIX = "attributes."
RESPONSE_COLUMNS = ("survey", "score", "answered_at", "agent", "team", "queue", "channel", "reason", "id",
                    "interaction_type", "locale", "anonymous")
EXTENSIONS = (".csv", ".xlsx")
BATCH_ROWS = 1000  # rows per transaction; each row still has its own savepoint
SHOWN_ERRORS = 20
# csv's own limit (128 KiB) would stop the file at one long cell; the schemas name over-long values.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_DICT_ERROR = re.compile(r"^(attributes\..+)\.(key|value)$")


class ImportFileError(ValueError):
    """The file cannot be imported at all: its name, its header or its text; nothing was written."""


@dataclass(frozen=True)
class RowError:
    """One refused row's field and what is wrong with it, in the API's words."""

    line: int
    field: str
    message: str


class RowRefused(Exception):
    """A row refused before or while it is stored; carries its (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(problems)
        self.problems = problems


@dataclass
class ImportResult:
    """What an import did: rows stored, found unchanged and refused, with every refusal."""

    kind: str
    path: Path
    dry_run: bool
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """The one-line summary the command prints last."""
        counts = (f"{self.imported:,} {self.kind} ({self.unchanged:,} unchanged, {self.rejected:,} rejected) "
                  f"from {self.path} in {self.seconds:.1f} s")
        if self.dry_run:
            return f"Dry run: would import {counts}; nothing was written."
        return f"Imported {counts}."


# -- reading files ----------------------------------------------------------------------------------


@dataclass
class Table:
    """A file's header and a way to read its data rows, as (line as a spreadsheet shows it, cells)."""

    path: Path
    header: list[str]
    header_line: int
    count: int  # data rows, blank ones aside
    _lines: Callable[[], Iterator[tuple[int, list]]]

    def rows(self) -> Iterator[tuple[int, list]]:
        """The data rows after the header, blank ones skipped, each with its line number."""
        return ((n, cells) for n, cells in self._lines() if n > self.header_line and _filled(cells))


def interaction_column(name: str) -> bool:
    """A column `import interactions` reads: an API field path, or attributes.<name>."""
    return name in INTERACTION_COLUMNS or (name.startswith(ATTRIBUTE_PREFIX)
                                           and len(name) > len(ATTRIBUTE_PREFIX))


def response_column(name: str) -> bool:
    """A column `import responses` reads."""
    return name in RESPONSE_COLUMNS


def open_table(path: Path, known: Callable[[str], bool]) -> Table:
    """Read a CSV (UTF-8, with or without BOM) or XLSX file whose header names only `known` columns.

    Raises ImportFileError naming what is wrong: the extension, the text, a missing header, an unknown
    or repeated column. Blank rows are skipped; every other row keeps its line number.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise ImportFileError(f"{path}: use a .csv or .xlsx file, not '{path.suffix or 'no extension'}'.")
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file.")
    lines = _csv_lines(path) if suffix == ".csv" else _xlsx_lines(path)
    header_line, header = next(((n, cells) for n, cells in lines() if _filled(cells)), (0, None))
    if header is None:
        raise ImportFileError(f"{path}: the file is empty; its first line must name the columns.")
    names = ["" if cell in ("", None) else str(cell) for cell in header]
    while names and not names[-1]:
        names.pop()
    names = [name.strip() for name in names]
    blank = [str(n + 1) for n, name in enumerate(names) if not name]
    if blank:
        raise ImportFileError(f"{path}: column {', '.join(blank)} of the header has no name.")
    unknown = [name for name in names if not known(name)]
    if unknown:
        raise ImportFileError(f"{path}: unknown column{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(repr(n) for n in unknown)}.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ImportFileError(f"{path}: column {', '.join(repr(n) for n in repeated)} appears twice.")
    count = sum(1 for n, cells in lines() if n > header_line and _filled(cells))
    return Table(path, names, header_line, count, lines)


def _filled(cells: list) -> bool:
    """Whether a row holds any cell at all (blank rows are skipped, not refused)."""
    return any(cell not in ("", None) for cell in cells)


def _csv_lines(path: Path) -> Callable[[], Iterator[tuple[int, list]]]:
    """Every record of a CSV file with its number (the header's is 1); the whole file is decoded and
    parsed once here, so that a file the csv module cannot read is refused before any row is written."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text (byte {exc.start + 1} cannot be read); "
                              "save it as CSV UTF-8.") from None
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))

    def lines() -> Iterator[tuple[int, list]]:
        return enumerate(csv.reader(io.StringIO(content, newline=""), strict=True), start=1)

    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as exc:
        raise ImportFileError(f"{path}: line {reader.line_num}: {exc}.") from None
    return lines


def _xlsx_lines(path: Path) -> Callable[[], Iterator[tuple[int, list]]]:
    """Every row of an XLSX file's first sheet, numbered from row 1 as the spreadsheet shows it."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except (CalamineError, OSError, ValueError) as exc:
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc}).") from None
    return lambda: enumerate(rows, start=1)


class CellError(ValueError):
    """A typed spreadsheet cell with no text form the API takes (a date without its offset)."""


def _cell_text(cell) -> str | None:
    """A cell as the API's JSON would carry it, as text; None for an empty cell (an absent field).

    Spreadsheets type what they can read as numbers or dates: a whole number typed as a float
    (12345.0) is its digits again, a truth value true/false, and a date or time, which holds no UTC
    offset, is refused rather than guessed.
    """
    if cell is None or cell == "":
        return None
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, datetime | date | clock | timedelta):
        raise CellError("The spreadsheet stored a date or time here, which holds no UTC offset; format "
                        "the cell as text, such as 2026-11-01T09:30:00+08:00.")
    return str(cell)


def _row_values(table: Table, cells: list) -> dict[str, str]:
    """The row's non-empty cells by column name; RowRefused for extra or unreadable cells."""
    if len(cells) > len(table.header) and _filled(cells[len(table.header):]):
        raise RowRefused([("_row", f"This row has {len(cells)} cells; the header names "
                                   f"{len(table.header)} columns.")])
    values, problems = {}, []
    for name, cell in zip(table.header, cells, strict=False):
        try:
            value = _cell_text(cell)
        except CellError as exc:
            problems.append((name, str(exc)))
            continue
        if value is not None:
            values[name] = value
    if problems:
        raise RowRefused(problems)
    return values


def nested(values: dict[str, str]) -> dict:
    """The API's JSON body from dotted column names: customer.phone -> {"customer": {"phone": ...}}."""
    body: dict = {}
    for name, value in values.items():
        if name.startswith(ATTRIBUTE_PREFIX):
            body.setdefault("attributes", {})[name[len(ATTRIBUTE_PREFIX):]] = value
        elif "." in name:
            parent, child = name.split(".", 1)
            body.setdefault(parent, {})[child] = value
        else:
            body[name] = value
    return body


def field_errors(messages, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted field, message) pairs of a marshmallow error, named as the file's columns are."""
    if isinstance(messages, str):
        return [(prefix or "_schema", messages)]
    if isinstance(messages, list):
        return [pair for message in messages for pair in field_errors(message, prefix)]
    pairs = []
    for name, inner in messages.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        pairs.extend(field_errors(inner, _DICT_ERROR.sub(r"\1", path)))
    return pairs


# -- the import loop --------------------------------------------------------------------------------


def _run(table: Table, kind: str, store: Callable[[dict], bool], parse: Callable[[dict], dict],
         dry_run: bool, progress: Callable[[int], object] | None) -> ImportResult:
    """Take the table's rows one by one: parse, then store in a savepoint; commit every BATCH_ROWS rows.

    `parse` raises RowRefused (or ValidationError) without writing; `store` returns True when it
    stored the row and False when it was there already, or raises RowRefused after undoing its writes.
    """
    result = ImportResult(kind, table.path, dry_run)
    started = time.perf_counter()
    pending = 0
    with BatchUnits() as units:
        try:
            for line, cells in table.rows():
                if progress is not None:
                    progress(1)
                try:
                    data = parse(_row_values(table, cells))
                    with units.savepoint():
                        created = store(data)
                except ValidationError as exc:
                    _refuse(result, line, field_errors(exc.messages))
                    continue
                except RowRefused as exc:
                    _refuse(result, line, exc.problems)
                    continue
                except Exception:  # one row's fault must not cost the others: the batch API's rule too
                    log.exception("import row %s of %s failed", line, table.path.name)
                    _refuse(result, line, [("_row", "This row could not be recorded; the others were. "
                                                    "Import the file again later.")])
                    continue
                if created:
                    result.imported += 1
                else:
                    result.unchanged += 1
                pending += 1
                if pending >= BATCH_ROWS and not dry_run:
                    units.commit()
                    pending = 0
        except BaseException:
            units.rollback()
            raise
        if dry_run:
            units.rollback()
        else:
            units.commit()
    result.seconds = time.perf_counter() - started
    return result


def _refuse(result: ImportResult, line: int, problems: list[tuple[str, str]]) -> None:
    """Count the row refused and keep each of its problems for the report."""
    result.rejected += 1
    result.errors.extend(RowError(line, name, message) for name, message in problems)


# -- interactions -----------------------------------------------------------------------------------

# One schema instance for every row, as the API keeps one for every request.
_INTERACTION = InteractionSchema()


def import_interactions(table: Table, *, dry_run: bool = False,
                        progress: Callable[[int], object] | None = None) -> ImportResult:
    """Each row as one item of POST /api/v1/interactions/batch: the same schema and intake function.

    The invitations each new interaction plans are made as the API makes them; a replay is
    `unchanged`, and the same source and external_id with another body is refused like the API's 409.
    """

    def store(data: dict) -> bool:
        """The intake's own function; a conflicting replay is the row's refusal."""
        try:
            return intake.record_interaction(data).created
        except intake.ConflictingReplay:
            raise RowRefused([("external_id", intake.conflict_message(data["external_id"]))]) from None

    return _run(table, "interactions", store, lambda values: _INTERACTION.load(nested(values)),
                dry_run, progress)


# -- responses --------------------------------------------------------------------------------------

_RESPONSE = ImportedResponseSchema()
_responses = Response.__table__
# What an import key stands for: a second row with the same key but other values is refused.
_COMPARED = ("score", "answered_at", "anonymous", "channel", "reason", "interaction_type", "agent_id",
             "team", "queue", "locale")


def import_responses(table: Table, *, dry_run: bool = False,
                     progress: Callable[[int], object] | None = None) -> ImportResult:
    """Past answers stored as responses with source `import` and no invitation, each once per survey.

    They count in scores and the feed; response rates count invitations, so they stay out of those.
    """
    surveys = {s.key: s for s in db.session.execute(
        select(Survey.id, Survey.key, Survey.metric, Survey.scale_min, Survey.scale_max, Survey.anonymity))}
    secret = current_app.config["SECRET_KEY"].encode()

    def parse(values: dict) -> dict:
        """The row checked by the schema, then by its survey's rules."""
        return imported_response(_RESPONSE.load(values), surveys, secret)

    def store(row: dict) -> bool:
        """Insert unless its import key is there; there with the same values is `unchanged`."""
        stored = db.session.execute(
            insert(_responses).values(**row)
            .on_conflict_do_nothing(index_elements=["survey_id", "import_key"],
                                    index_where=text("import_key IS NOT NULL"))
            .returning(_responses.c.id)).first()
        if stored is not None:
            return True
        existing = db.session.execute(select(*(_responses.c[name] for name in _COMPARED)).where(and_(
            _responses.c.survey_id == row["survey_id"], _responses.c.import_key == row["import_key"]))).one()
        if all(getattr(existing, name) == row[name] for name in _COMPARED):
            return False
        raise RowRefused([("id", "An answer with this id was already imported for this survey with other "
                                 "values.")])

    return _run(table, "responses", store, parse, dry_run, progress)


def imported_response(data: dict, surveys: dict, secret: bytes) -> dict:
    """The responses row of one valid imported answer, or RowRefused naming the field.

    The answer rules decide as they do for live answers: the score within the survey's scale, no
    anonymous answer to a survey that never takes one, an anonymous answer kept to its UTC day and
    without its locale or the other tool's id. DESIGN 5 lets it keep only what scoring needs.
    """
    survey = surveys.get(data["survey"])
    if survey is None:
        raise RowRefused([("survey", f"No survey has the key '{data['survey']}'.")])
    if not InScale.py(data["score"], survey.scale_min, survey.scale_max):
        raise RowRefused([("score", f"Score must be between {survey.scale_min} and {survey.scale_max}.")])
    if RefusesAnonymity.py(survey.anonymity, data["anonymous"]):
        raise RowRefused([("anonymous", "This survey does not take anonymous answers.")])
    try:
        reason = clean_reason(data.get("reason"))
    except AnswerError as exc:
        raise RowRefused([(exc.field or "reason", exc.message)]) from None
    anonymous = StoredAnonymous.py(survey.anonymity, data["anonymous"])
    answered_at = data["answered_at"].astimezone(UTC)
    row = {"id": new_response_id(), "survey_id": survey.id, "metric": survey.metric, "score": data["score"],
           "reason": reason, "anonymous": anonymous, "channel": data["channel"],
           "interaction_type": data.get("interaction_type"), "agent_id": data.get("agent"),
           "team": data.get("team"), "queue": data.get("queue"),
           "locale": None if anonymous else data.get("locale"),
           "answered_at": KeptTime.py(answered_at, anonymous), "source": "import"}
    row["import_key"] = import_key(data, answered_at, reason, anonymous, secret)
    return row


def import_key(data: dict, answered_at: datetime, reason: str | None, anonymous: bool, secret: bytes) -> str:
    """The key that stores an imported answer once per survey: the given id, else a SHA-256 of its values.

    An anonymous answer's key is keyed with the service's secret (HMAC-SHA256) instead, so that it
    says nothing of the other tool's id or of the moment the answer came, which it no longer keeps.
    """
    if data.get("id") is not None and not anonymous:
        return data["id"]
    if data.get("id") is not None:
        material = "id\x1f" + data["id"]
    else:
        material = json.dumps({"survey": data["survey"], "score": data["score"],
                               "answered_at": answered_at.isoformat(), "reason": reason,
                               "channel": data["channel"], "agent": data.get("agent"),
                               "team": data.get("team"), "queue": data.get("queue"),
                               "interaction_type": data.get("interaction_type"),
                               "locale": data.get("locale"), "anonymous": anonymous}, sort_keys=True)
    if anonymous:
        return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(material.encode()).hexdigest()


# -- the error report -------------------------------------------------------------------------------


def error_lines(errors: list[RowError], shown: int = SHOWN_ERRORS) -> list[str]:
    """The first `shown` refusals as `line N, field: message`, then how many more there are."""
    lines = [f"line {e.line}, {e.field}: {e.message}" for e in errors[:shown]]
    if len(errors) > shown:
        lines.append(f"and {len(errors) - shown:,} more")
    return lines


def write_error_report(path: Path, errors: list[RowError]) -> None:
    """Every refusal as CSV (line, field, message); cells a spreadsheet would run are made text."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("line", "field", "message"))
        for e in errors:
            writer.writerow((e.line, neutralise(e.field), neutralise(e.message)))

