"""Survey definitions, scales and scoring rules."""
