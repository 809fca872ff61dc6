"""Composition root: the CLI; builds settings and dependencies once."""
