from slack_bolt import App

from handlers.events.direct_message import direct_message, is_direct_message
from handlers.events.mention import app_mention


def register(app: App) -> None:
    app.event("app_mention")(app_mention)
    app.event("message", matchers=[is_direct_message])(direct_message)
