import re

from slack_bolt import App

from finops_bot.render.blocks import ASK_ACTION, SHARE_ACTION, SHOW_CHART_ACTION
from finops_bot.render.proposals import FIX_KEEP, FIX_PLAN, FIX_SNOOZE, FIX_START, FIX_STOP
from handlers.actions.anomaly_feedback import anomaly_feedback
from handlers.actions.ask import ask_suggestion
from handlers.actions.remediation import ack_fix, fix_click, unknown_fix
from handlers.actions.share import share_in_channel
from handlers.actions.show_chart import show_chart


def register(app: App) -> None:
    app.action(SHARE_ACTION)(share_in_channel)
    app.action(SHOW_CHART_ACTION)(show_chart)
    app.action(re.compile(rf"^{ASK_ACTION}_\d+$"))(ask_suggestion)
    app.action(re.compile(r"^finops_anomaly_(ack|expected|not)$"))(anomaly_feedback)
    fixes = "|".join((FIX_STOP, FIX_SNOOZE, FIX_START, FIX_PLAN))
    app.action(re.compile(rf"^({fixes}|{FIX_KEEP}:rp_\w+:[\w-]+)$"))(ack=ack_fix, lazy=[fix_click])
    app.action(re.compile(r"^finops_fix_"))(unknown_fix)  # a forged or stale id: told, not 404
