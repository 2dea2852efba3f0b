"""Intake of interaction-ended events."""
