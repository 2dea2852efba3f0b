"""Twilio adapters: SMS through the Messages API, IVR calls through the Calls API."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit
from urllib.request import getproxies

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from survey_service.delivery.base import (
    DeliveryError,
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
)

log = logging.getLogger(__name__)
# The library logs each request's form (phone numbers, texts) at INFO: keep that out of our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

# Twilio error codes (https://www.twilio.com/docs/api/errors) and what they mean for a send.
RETRY_CODES = frozenset({20429, 30001, 30008})
OPTED_OUT = 21610
INVALID_NUMBER = frozenset({21211, 21614})


class RebasedHttpClient(TwilioHttpClient):
    """Sends every API request to another Twilio-compatible endpoint (a local mock, a proxy)."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self.scheme, self.netloc = parts.scheme, parts.netloc

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        rebased = urlunsplit((self.scheme, self.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, rebased, *args, **kwargs)


def read_environment_once(session: requests.Session) -> None:
    """Take the CA bundle from the environment now, not on every call, when no proxy is set.

    requests scans os.environ for proxies and a CA bundle on each request (about 80 us of CPU);
    with proxies set, their per-host NO_PROXY rules still need that scan, so the session keeps it.
    """
    if getproxies():
        return
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def make_client(config: dict) -> Client:
    """A Twilio REST client from the SURVEY_TWILIO_* settings."""
    timeout = config.get("TWILIO_TIMEOUT", 10.0)
    base = config.get("TWILIO_API_BASE_URL")
    http = RebasedHttpClient(base, timeout=timeout) if base else TwilioHttpClient(timeout=timeout)
    read_environment_once(http.session)
    return Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http)


def classify(exc: Exception) -> DeliveryError:
    """Map a Twilio or network error to a retry (transient) or an end (permanent), per DESIGN 3."""
    if isinstance(exc, TwilioRestException):
        code, status = exc.code, exc.status or 0
        reason = f"twilio_{code}" if code else f"http_{status}"
        if code == OPTED_OUT:
            return PermanentError(reason, exc.msg or "", opt_out=True)
        if code in INVALID_NUMBER:
            return PermanentError(reason, exc.msg or "", fall_back=True)
        if status == 429 or status >= 500 or code in RETRY_CODES:
            return TransientError(reason, exc.msg or "")
        if status in (401, 403):
            # Our credentials, not the recipient: retry while an operator fixes the settings.
            return TransientError(f"twilio_auth_{status}", exc.msg or "")
        return PermanentError(reason, exc.msg or "")
    if isinstance(exc, requests.RequestException):
        return TransientError("twilio_unreachable", type(exc).__name__)
    return TransientError("twilio_error", type(exc).__name__)


@dataclass(frozen=True)
class ProviderStatus:
    """What Twilio says about a message or call it accepted: its status and error code."""

    status: str
    error_code: int | None


class _TwilioChannel:
    def __init__(self, client: Client, from_: str):
        self.client, self.from_ = client, from_

    def _call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except (TwilioRestException, TwilioException, requests.RequestException) as exc:
            raise classify(exc) from exc


class TwilioSmsChannel(_TwilioChannel):
    """SMS invitations; Twilio posts delivery status to the message's status_callback_url."""

    name = "sms"

    def send(self, message: OutgoingMessage) -> SendResult:
        sent = self._call(self.client.messages.create, to=message.to, from_=self.from_,
                          body=message.text, status_callback=message.status_callback_url)
        log.info("invitation %s: sms accepted as %s", message.invitation_id, sent.sid)
        return SendResult(provider_id=sent.sid)

    def lookup(self, sid: str) -> ProviderStatus:
        """The message's current status, for reconciling a row left in `sending`."""
        msg = self._call(self.client.messages(sid).fetch)
        return ProviderStatus(str(msg.status), msg.error_code)


class TwilioVoiceChannel(_TwilioChannel):
    """IVR invitations: an outbound call whose TwiML is served by answers.twilio_voice."""

    name = "ivr"
    EVENTS = ["initiated", "ringing", "answered", "completed"]

    def send(self, message: OutgoingMessage) -> SendResult:
        call = self._call(self.client.calls.create, to=message.to, from_=self.from_,
                          url=message.voice_url, method="POST",
                          status_callback=message.status_callback_url,
                          status_callback_event=self.EVENTS, status_callback_method="POST")
        log.info("invitation %s: call accepted as %s", message.invitation_id, call.sid)
        return SendResult(provider_id=call.sid)

    def lookup(self, sid: str) -> ProviderStatus:
        """The call's current status, for reconciling a row left in `sending`."""
        call = self._call(self.client.calls(sid).fetch)
        return ProviderStatus(str(call.status), None)


def configured(config: dict) -> bool:
    return bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")
                and config.get("TWILIO_FROM"))


def sms_channel(config: dict) -> TwilioSmsChannel | None:
    return TwilioSmsChannel(make_client(config), config["TWILIO_FROM"]) if configured(config) else None


def voice_channel(config: dict) -> TwilioVoiceChannel | None:
    return TwilioVoiceChannel(make_client(config), config["TWILIO_FROM"]) if configured(config) else None
