"""The Twilio webhook parameters the service reads, bounded as the database stores them."""

from __future__ import annotations

from flask import request
from flask_smorest import abort

from survey_service.validation import parse_id, unstorable

# The longest value of each parameter the service reads; Twilio's own are far shorter (a SID is 34
# characters, a number at most 16), so only a request Twilio would never send meets a limit.
LIMITS = {
    "MessageSid": 64, "SmsMessageSid": 64, "SmsSid": 64, "CallSid": 64,
    "From": 64, "To": 64, "Body": 4000, "Digits": 32, "RecordingUrl": 500,
    "MessageStatus": 32, "SmsStatus": 32, "CallStatus": 32, "ErrorCode": 16,
}
QUERY_IDS = ("invitation",)


def param_error() -> tuple[str, str] | None:
    """(parameter, what is wrong) for the first parameter the service cannot take, or None.

    One pass over what was sent: no NUL or lone surrogate anywhere (the database refuses them),
    no known parameter past its limit, ids in the query within a database integer.
    """
    for name, value in request.form.items(multi=True):
        char = unstorable(value)
        if char is not None:
            return name, f"holds a character that cannot be stored: U+{ord(char):04X}"
        limit = LIMITS.get(name)
        if limit is not None and len(value) > limit:
            return name, f"is longer than {limit} characters"
    for name, value in request.args.items(multi=True):
        if unstorable(value) is not None:
            return name, "holds a character that cannot be stored"
        if name in QUERY_IDS and parse_id(value) is None:
            return name, "is not an id"
    return None


def refuse_bad_params() -> None:
    """400 naming the parameter, before anything is read or written."""
    error = param_error()
    if error is not None:
        name, problem = error
        abort(400, message=f"The parameter {name} {problem}.",
              errors={"form" if name in request.form else "query": {name: [problem]}})
