"""Machinery that exists only for speed, fenced here: the hot paths' autocommit connection and
compiled statements, and request hooks trimmed for requests that never use them."""

from __future__ import annotations

import functools
from contextlib import contextmanager

from flask import current_app, g
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError


def init_app(app) -> None:
    """Attach the fast paths: the unit connection's pool, lean sessions and lean limiter hooks."""
    from survey_service.extensions import limiter

    app.teardown_appcontext(close_unit_connection)
    app.session_interface = CookieSessionOnDemand()
    trim_limiter_hooks(app, limiter)


# -- one statement, one round trip ----------------------------------------------------------------


class DriverStatement:
    """A Core statement compiled once and run straight on psycopg's cursor, for the hottest paths.

    SQLAlchemy's per-call execution machinery (context, parameter and result processing) costs as
    much CPU as psycopg's own work for a statement that is otherwise one round trip. Parameters go
    through their types' bind processors as usual; result columns are taken as psycopg reads them,
    so only for statements whose columns need no result processing (aware timestamps, JSON,
    numbers and text).
    """

    def __init__(self, statement):
        self.statement = statement
        self._sql: str | None = None
        self._compiled = None
        self._processors: dict = {}

    def compile(self, dialect) -> None:
        """Compile for the dialect, once; refuses statements that lean on Python-side defaults."""
        compiled = self.statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Python-side column defaults are filled in by the execution machinery skipped here.
            names = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"set these columns explicitly in the statement: {', '.join(names)}")
        for bind in compiled.binds.values():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[bind.key] = processor
        self._compiled, self._sql = compiled, compiled.string

    def rows(self, connection, params: dict) -> list:
        """Run it; rows with attribute access by column name."""
        from psycopg.rows import namedtuple_row

        if self._sql is None:
            self.compile(connection.dialect)
        values = self._compiled.construct_params(params)
        for key, processor in self._processors.items():
            values[key] = processor(values[key])
        dbapi_error = connection.dialect.loaded_dbapi.Error
        try:
            with connection.connection.driver_connection.cursor(row_factory=namedtuple_row) as cursor:
                cursor.execute(self._sql, values)
                return cursor.fetchall()
        except dbapi_error as exc:  # the exceptions SQLAlchemy would raise (IntegrityError, ...)
            raise DBAPIError.instance(self._sql, values, exc, dbapi_error) from exc

    def one(self, connection, params: dict):
        """The single row of a statement that returns exactly one."""
        [row] = self.rows(connection, params)
        return row


# -- the unit connection --------------------------------------------------------------------------


def unit_connection():
    """The connection for a unit of work that is a single statement, kept for the app context.

    It comes from a pool of autocommit connections: each statement commits itself, without the
    BEGIN and COMMIT round trips of a transaction.
    """
    connection = g.get("unit_connection")
    if connection is not None:
        return connection
    engine = current_app.extensions.get("unit_engine")
    if engine is None:
        from survey_service.extensions import db

        engine = current_app.extensions["unit_engine"] = create_engine(
            db.engine.url, **current_app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    connection = g.unit_connection = engine.connect()
    return connection


def commit_session() -> None:
    """Commit the request's session if it has one: work done on the unit connection opened none,
    and creating a session only to commit nothing costs more than the statement it follows."""
    from survey_service.extensions import db

    if db.session.registry.has():
        db.session.commit()


def rollback_unit() -> None:
    """After a failed statement: roll back the session and reset the autocommit connection, if any.

    Inside a batch (BatchUnits) only the unit's savepoint is rolled back: the batch's earlier units stay.
    """
    from survey_service.extensions import db

    batch = g.get("unit_savepoint")
    if batch is not None:
        batch.undo()
        return
    connection = g.get("unit_connection")
    if connection is not None:
        connection.rollback()
    db.session.rollback()


def close_unit_connection(_exc=None) -> None:
    """Give the app context's autocommit connection back to the pool."""
    connection = g.pop("unit_connection", None)
    if connection is not None:
        connection.close()


class BatchUnits:
    """Units of work run inside one transaction of the session, each in a savepoint, for imports.

    The unit connection is then the session's own, so a unit's statements, the session's reads and
    the batch's commit share one transaction: a failed unit is undone alone (rollback_unit rolls back
    to its savepoint), and nothing is written until commit(). A unit's savepoint is released as the
    next one is set, in one round trip ("RELEASE SAVEPOINT unit; SAVEPOINT unit"), since the unit
    statements themselves are one or two round trips. Used as a context manager.
    """

    _NAME = "unit"

    def __enter__(self) -> BatchUnits:
        self._held = False
        self._bind()
        return self

    def __exit__(self, *exc) -> None:
        g.pop("unit_savepoint", None)
        g.pop("unit_connection", None)

    def _bind(self) -> None:
        from survey_service.extensions import db

        connection = g.unit_connection = db.session.connection()
        self._driver = connection.connection.driver_connection
        self._held = False

    def _run(self, sql: str) -> None:
        with self._driver.cursor() as cursor:
            cursor.execute(sql)

    @contextmanager
    def savepoint(self):
        """One unit: undone alone when it raises; kept (released with the next) when it ends."""
        self._run(f"RELEASE SAVEPOINT {self._NAME}; SAVEPOINT {self._NAME}" if self._held
                  else f"SAVEPOINT {self._NAME}")
        self._held = True
        g.unit_savepoint = self
        try:
            yield
        except BaseException:
            self.undo()
            raise
        finally:
            g.pop("unit_savepoint", None)

    def undo(self) -> None:
        """Roll back to the current unit's savepoint, once; the batch's earlier units stay."""
        if self._held:
            self._run(f"ROLLBACK TO SAVEPOINT {self._NAME}; RELEASE SAVEPOINT {self._NAME}")
            self._held = False

    def commit(self) -> None:
        """Commit the batch so far and go on in a new transaction, with an empty identity map."""
        from survey_service.extensions import db

        db.session.commit()
        db.session.expunge_all()
        self._bind()

    def rollback(self) -> None:
        """Undo every unit since the last commit (a dry run ends so)."""
        from survey_service.extensions import db

        db.session.rollback()
        self._held = False


# -- request hooks --------------------------------------------------------------------------------


class CookieSessionOnDemand(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with no signing work for requests that carry no session cookie.

    API calls and webhooks never send one; only the web survey's form (its CSRF token) uses it.
    """

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ or app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def trim_limiter_hooks(app, limiter) -> None:
    """Keep Flask-Limiter's per-request hooks off requests that never meet a limit.

    Every limit here is declared on its view (@limiter.limit), which checks itself when the view
    runs: the global check before each request is only needed for default or application limits,
    and the after-request and teardown hooks (X-RateLimit headers, per-request state) only act on
    requests whose view checked a limit. Webhooks and unlimited views skip all three.
    Retry-After stays on the answers that ask a client to wait (429), not on every limited one.
    """
    with app.app_context():
        if not (limiter.limit_manager.default_limits or limiter.limit_manager.application_limits):
            app.before_request_funcs[None].remove(limiter._check_request_limit)

    def when_used(hook):
        @functools.wraps(hook)
        def run(arg=None):  # the exception at teardown
            used = hasattr(request_ctx._get_current_object(), "_limiter_request_context")
            return hook(arg) if used else arg

        return run

    def headers_when_used(hook):
        @functools.wraps(hook)
        def run(response):
            if not hasattr(request_ctx._get_current_object(), "_limiter_request_context"):
                return response
            response = hook(response)
            if response.status_code != 429:
                response.headers.pop("Retry-After", None)
            return response

        return run

    for funcs, wrap in ((app.after_request_funcs[None], headers_when_used),
                        (app.teardown_request_funcs[None], when_used)):
        for i, hook in enumerate(funcs):
            if getattr(hook, "func", hook).__qualname__.startswith("Limiter."):
                funcs[i] = wrap(hook)
