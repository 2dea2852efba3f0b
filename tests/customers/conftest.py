"""The Twilio fake and its signed webhooks, for customers answering by SMS."""

from tests.twilio.conftest import twilio_api, webhook  # noqa: F401 (fixtures)
