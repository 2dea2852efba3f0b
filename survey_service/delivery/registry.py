"""Which adapter carries each channel: a configured provider, else the outbox."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from survey_service.delivery.base import Channel
from survey_service.delivery.outbox import OutboxChannel

# name -> factory(config) returning an adapter, or None when that provider is not configured.
_PROVIDERS: dict[str, Callable[[dict], Channel | None]] = {}


def register(name: str):
    """Decorator for a provider factory; adding a channel is one module and one register()."""

    def wrap(factory):
        _PROVIDERS[name] = factory
        return factory

    return wrap


@register("email")
def _smtp(config: dict):
    if not config.get("SMTP_HOST"):
        return None
    from survey_service.delivery.email import SmtpEmailChannel

    return SmtpEmailChannel(config["SMTP_HOST"], config["SMTP_PORT"], config["MAIL_FROM"],
                            config.get("SMTP_USERNAME"), config.get("SMTP_PASSWORD"),
                            config.get("SMTP_STARTTLS", False), config.get("SMTP_TIMEOUT", 10.0),
                            config.get("BRAND_NAME") or "Customer feedback")


@register("sms")
def _twilio_sms(config: dict):
    from survey_service.delivery.twilio import sms_channel

    return sms_channel(config)


@register("ivr")
def _twilio_voice(config: dict):
    from survey_service.delivery.twilio import voice_channel

    return voice_channel(config)


def channel_for(name: str) -> Channel:
    """The adapter for `name` in the current app (outbox when unconfigured)."""
    cache = current_app.extensions.setdefault("survey_channels", {})
    if name not in cache:
        factory = _PROVIDERS.get(name)
        adapter = factory(current_app.config) if factory else None
        cache[name] = adapter or OutboxChannel(name)
    return cache[name]
