"""finops-bot core: billing cache, importers, question engine. No Slack, scheduler or web code."""

__version__ = "0.1.0"
