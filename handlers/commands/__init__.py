from slack_bolt import App

from handlers.commands.finops import finops_command


def register(app: App) -> None:
    app.command("/finops")(finops_command)
