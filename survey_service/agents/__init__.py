"""Agents: the directory of the people who handle interactions, and their own effort answers."""
