"""Answers in: web form, JSON, Twilio webhooks, reply parsing."""
