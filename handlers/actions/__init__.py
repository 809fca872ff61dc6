import re

from slack_bolt import App

from finops_bot.render.blocks import ASK_ACTION, SHARE_ACTION
from handlers.actions.ask import ask_suggestion
from handlers.actions.share import share_in_channel


def register(app: App) -> None:
    app.action(SHARE_ACTION)(share_in_channel)
    app.action(re.compile(rf"^{ASK_ACTION}_\d+$"))(ask_suggestion)
