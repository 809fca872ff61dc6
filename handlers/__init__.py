"""Slack listeners (commands/, events/, actions/) and HTTP routes (http/). Thin: parse the
request, call the core, render, reply. Each feature folder has ``register(app)``."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, errors, events


def register(app: App) -> None:
    commands.register(app)
    events.register(app)
    actions.register(app)
    errors.register(app)
