"""Which days a sync re-pulls.

Providers restate recent days, so every sync re-pulls a refresh window (default the last 5
days, today included). In the first days of a month the whole previous month is re-pulled
too: that is when it closes and its final numbers appear. ``--since`` backfills from a date.
Long windows are split by calendar month so each month lands (or fails) on its own.
"""

from __future__ import annotations

from datetime import date, timedelta

from finops_bot.sources.base import SyncWindow


def sync_windows(today: date, refresh_days: int = 5, since: date | None = None) -> list[SyncWindow]:
    start = today - timedelta(days=max(refresh_days, 1))
    if today.day <= refresh_days:
        previous_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        start = min(start, previous_month)
    if since is not None:
        start = min(start, since)
    return split_by_month(SyncWindow(start, today))


def split_by_month(window: SyncWindow) -> list[SyncWindow]:
    out = []
    start = window.start
    while start <= window.end:
        next_month = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = min(window.end, next_month - timedelta(days=1))
        out.append(SyncWindow(start, end))
        start = end + timedelta(days=1)
    return out
