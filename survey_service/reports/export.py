"""Exports of the responses feed to a file: CSV, NDJSON or XLSX, streamed row by row, put in place whole.

The rows and columns are the feed's (`feed.stream`'s dicts, `feed.COLUMNS`), so an export never shows more
than the feed does (DESIGN 5). Memory stays flat: rows come through a server-side cursor and each is
written as it arrives (XLSX through openpyxl's write-only mode).
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from marshmallow import ValidationError
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func

from survey_service.extensions import db
from survey_service.reports import feed
from survey_service.reports.schemas import FeedQuerySchema

FORMATS = ("csv", "xlsx", "ndjson")
PROGRESS_EVERY = 1000


class BadOption(ValueError):
    """An export option the feed's query rules refuse; `option` names it as the command line spells it."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


def filters(**options: str | None) -> dict:
    """The `feed.stream` keywords for the given options (the API's names), checked by the API's own rules.

    Raises BadOption naming the first refused option: `from`/`to` need an offset, as in the API.
    """
    given = {name: value for name, value in options.items() if value is not None}
    try:
        loaded = FeedQuerySchema().load(given)
    except ValidationError as exc:
        name = next(iter(exc.messages))
        messages = exc.messages[name]
        raise BadOption(f"--{name.replace('_', '-')}", " ".join(messages) if isinstance(messages, list)
                        else str(messages)) from None
    loaded.pop("limit", None)
    return loaded


def stream(**filters) -> Iterator[dict]:
    """`feed.stream(**filters)`'s rows, the same dicts, read a third faster for files of millions of rows.

    SQLAlchemy's Row is slow to read by attribute, which the feed's row shaping does sixteen times a
    row; each row is handed to it as a named tuple instead. The filters are checked now (UnknownSurvey).
    """
    return _streamed(feed._statement(**filters))


def _streamed(statement) -> Iterator[dict]:
    """The statement's rows through a server-side cursor, each shaped by the feed as a named tuple."""
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(statement)
        record = namedtuple("FeedRecord", result.keys())._make
        shape = feed._row
        for row in result:
            yield shape(record(row))


def count(**filters) -> int:
    """How many rows `feed.stream(**filters)` gives, in one COUNT (for a progress bar's total)."""
    # The feed's own statement, so the count follows its filters and its held-back rows.
    statement = feed._statement(**filters).with_only_columns(func.count()).order_by(None)
    return db.session.execute(statement).scalar_one()


def write_csv(rows: Iterable[dict], out: TextIO) -> int:
    """The rows as the feed's CSV (header, then `feed.cells`) to a text file opened with newline=""."""
    writer = csv.writer(out)
    writer.writerow(feed.COLUMNS)
    writerow, cells = writer.writerow, feed.cells  # looked up once: this loop runs a million times
    written = 0
    for row in rows:
        writerow(cells(row))
        written += 1
    return written


def write_ndjson(rows: Iterable[dict], out: TextIO) -> int:
    """The rows as the feed's NDJSON, one object a line, to a text file."""
    written = 0
    for line in feed.ndjson_lines(rows):
        out.write(line)
        written += 1
    return written


def write_xlsx(rows: Iterable[dict], out: BinaryIO | str | Path) -> int:
    """The rows as one worksheet (header row first) through openpyxl's write-only mode.

    Numbers stay numbers and booleans booleans; text is neutralised as in the CSV, so no cell is a formula.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet("responses")
    sheet.append(feed.COLUMNS)
    paths = [tuple(name.split(".")) for name in feed.COLUMNS]
    written = 0
    try:
        for row in rows:
            sheet.append([xlsx_cell(_lookup(row, name, path))
                          for name, path in zip(feed.COLUMNS, paths, strict=True)])
            written += 1
    except BaseException:
        _discard(sheet)
        raise
    book.save(out)
    return written


def _discard(sheet) -> None:
    """Close a write-only sheet that will not be saved and remove the temporary file openpyxl keeps it in."""
    with contextlib.suppress(Exception):
        sheet.close()
        sheet._writer.cleanup()  # openpyxl removes it only on save, or at exit


def _lookup(row: dict, name: str, path: tuple[str, ...]):
    """A column's value: the key itself, or a dotted name read through nested objects; None when absent."""
    if name in row:
        return row[name]
    value = row
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def xlsx_cell(value):
    """A value as an XLSX cell: None empty, bool and numbers as such, text neutralised and storable.

    Characters XML cannot carry (control characters) are dropped first, so none can hide a formula.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    return feed.neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


_TEXT_WRITERS: dict[str, Callable[[Iterable[dict], TextIO], int]] = {"csv": write_csv,
                                                                     "ndjson": write_ndjson}


def export(rows: Iterable[dict], fmt: str, path: str | Path,
           progress: Callable[[int], object] | None = None) -> int:
    """Write the rows to `path` in `fmt`; returns how many. A failed export leaves no file behind.

    The rows go to a temporary file beside `path`, renamed over it only once complete, so a reader
    sees the old file or the new one, never half of one. `progress(n)` is told of every n rows.
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    target = Path(path)
    if progress is not None:
        rows = _reporting(rows, progress)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        os.chmod(temp, _new_file_mode())
        if fmt == "xlsx":
            with open(handle, "wb") as out:
                written = write_xlsx(rows, out)
        else:
            with open(handle, "w", encoding="utf-8", newline="") as out:
                written = _TEXT_WRITERS[fmt](rows, out)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return written


def _reporting(rows: Iterable[dict], progress: Callable[[int], object]) -> Iterator[dict]:
    """The rows unchanged, calling progress(n) every PROGRESS_EVERY rows and once for the rest."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == PROGRESS_EVERY:
            progress(pending)
            pending = 0
    if pending:
        progress(pending)


def _new_file_mode() -> int:
    """The mode a file made by `open()` would get (0666 less the umask); temp files start at 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
