"""Request bodies as the service reads them: JSON objects only, never too deep, never past the limit."""

from __future__ import annotations

import json

from flask import Request as FlaskRequest
from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing what RFC 8259 does: NaN and Infinity, and nesting Python cannot decode.

    json.loads raises RecursionError on deep nesting ([[[[...]]]]), which Flask does not catch; as a
    ValueError it becomes Flask's 400 "Failed to decode JSON object".
    """

    ensure_ascii = False  # Chinese reasons and labels stay readable in API answers

    def loads(self, s, **kwargs):
        try:
            return json.loads(s, parse_constant=_refuse_constant, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None

    def response(self, *args, **kwargs):
        """Flask's JSON answer, written as UTF-8; a lone surrogate (echoed from input) as an escape."""
        obj = self._prepare_response_obj(args, kwargs)
        text = self.dumps(obj, separators=(",", ":"))
        try:
            data = text.encode()
        except UnicodeEncodeError:
            data = self.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode()
        return self._app.response_class(data + b"\n", mimetype=self.mimetype)


class _MaxStream(LimitedStream):
    """A streamed body read up to the limit; one byte more is a 413, not a body silently cut short."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class Request(FlaskRequest):
    """Flask's request: a chunked body over MAX_CONTENT_LENGTH is a 413; bad JSON says what is wrong."""

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:  # not sent as JSON: BodyParser answers 415 before this
            return super().on_json_loading_failed(e)
        raise BadRequest(f"The body is not valid JSON: {e}.")

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if limit is None or self.content_length is not None \
                or "wsgi.input_terminated" not in self.environ:
            return super().stream
        return _MaxStream(self.environ["wsgi.input"], limit, is_max=True)


class BodyParser(FlaskParser):
    """webargs' parser for the API: a body is a JSON object sent as application/json, or it is refused.

    Another Content-Type is a 415 (not "Missing data" for every field); malformed or too deep JSON
    is Flask's 400; JSON that is not an object (a list, a string, null) is a 422 that says so.
    An empty body stays absent, so the schema names each required field.
    """

    def _raw_load_json(self, req: FlaskRequest):
        if not req.get_data(cache=True):
            return core.missing
        if not req.is_json:
            abort(415, message="Send the body as JSON with the header Content-Type: application/json.")
        body = req.get_json()
        if not isinstance(body, dict):
            abort(422, message="The body must be a JSON object.",
                  errors={"json": {"_schema": [f"Expected a JSON object, not {json_kind(body)}."]}})
        return body


def json_kind(value) -> str:
    """How JSON names the type of a decoded value."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array"}.get(type(value), "another type")
