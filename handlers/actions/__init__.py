from slack_bolt import App

from finops_bot.render.blocks import SHARE_ACTION
from handlers.actions.share import share_in_channel


def register(app: App) -> None:
    app.action(SHARE_ACTION)(share_in_channel)
