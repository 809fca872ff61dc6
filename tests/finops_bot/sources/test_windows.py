"""Which days a sync re-pulls."""

from __future__ import annotations

from datetime import date

from finops_bot.sources.windows import sync_windows


def spans(windows):
    return [(str(w.start), str(w.end)) for w in windows]


def test_refresh_window_is_the_last_days():
    assert spans(sync_windows(date(2026, 11, 22))) == [("2026-11-17", "2026-11-22")]


def test_a_closing_month_is_pulled_whole():
    assert spans(sync_windows(date(2026, 12, 3))) == [
        ("2026-11-01", "2026-11-30"),
        ("2026-12-01", "2026-12-03"),
    ]


def test_since_backfills_month_by_month():
    assert spans(sync_windows(date(2026, 11, 22), since=date(2026, 9, 15))) == [
        ("2026-09-15", "2026-09-30"),
        ("2026-10-01", "2026-10-31"),
        ("2026-11-01", "2026-11-22"),
    ]


def test_refresh_days_setting():
    assert spans(sync_windows(date(2026, 11, 22), refresh_days=2)) == [("2026-11-20", "2026-11-22")]
