"""The one interface every channel adapter implements, and the errors that steer retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """What a channel needs to carry one invitation; built by delivery.messages."""

    invitation_id: int
    channel: str
    to: str
    locale: str
    text: str
    subject: str | None = None
    html: str | None = None
    # Twilio: where to POST delivery status (names the invitation), and the call's TwiML URL.
    status_callback_url: str | None = None
    voice_url: str | None = None
    headers: dict = field(default_factory=dict)
    sender_name: str | None = None  # email: the From name, in the respondent's language


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message; its id (Message SID, Call SID, Message-ID)."""

    provider_id: str | None


class DeliveryError(Exception):
    """Base of the errors a channel raises; `reason` is stored on the invitation."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class TransientError(DeliveryError):
    """Not processed, or known to pass (429, 5xx, Twilio 20429/30001/30008, SMTP 4xx): retry."""


class PermanentError(DeliveryError):
    """Will never succeed as addressed: end the invitation, or fall back to the next channel."""

    def __init__(self, reason: str, detail: str = "", *, opt_out: bool = False,
                 fall_back: bool = False):
        super().__init__(reason, detail)
        self.opt_out = opt_out
        self.fall_back = fall_back


class Channel(Protocol):
    """A channel adapter: send one message or raise a DeliveryError."""

    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...
