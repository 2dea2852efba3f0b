"""Invitation policy, tokens, state machine and the sweeper."""
