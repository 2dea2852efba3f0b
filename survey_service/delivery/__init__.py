"""Channel adapters (sms, email, ivr, outbox) behind one interface."""
