"""The email channel over SMTP: one multipart message (plain text and HTML) per invitation."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from survey_service.delivery.base import (
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
)


class SmtpEmailChannel:
    """Sends through the configured SMTP server; 4xx and network errors retry, 5xx do not."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0,
                 sender_name: str = "Customer feedback"):  # when a message names none
        self.host, self.port, self.sender, self.sender_name = host, port, sender, sender_name
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    def build(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr((message.sender_name or self.sender_name, self.sender))
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        domain = self.sender.rpartition("@")[2] or "localhost"
        mail["Message-ID"] = make_msgid(idstring=f"inv{message.invitation_id}", domain=domain)
        for name, value in message.headers.items():
            mail[name] = value
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: OutgoingMessage) -> SendResult:
        mail = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            raise _by_code(code, "recipient refused") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error.decode(errors="replace")) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            raise TransientError("smtp_unreachable", type(exc).__name__) from exc
        return SendResult(provider_id=mail["Message-ID"])


def _by_code(code: int, detail: str):
    if 400 <= code < 500:
        return TransientError(f"smtp_{code}", detail)
    return PermanentError(f"smtp_{code}", detail)
