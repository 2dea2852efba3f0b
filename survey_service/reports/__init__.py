"""Scores, response rates, feeds and exports."""
