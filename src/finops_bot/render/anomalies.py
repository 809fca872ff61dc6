"""Anomalies as JSON (the stable contract of `anomalies --json` and `anomalies backtest`)
and as text lines. They read the object's fields, never its kind."""

from __future__ import annotations

from finops_bot.money import format_money
from finops_bot.store.anomalies import StoredAnomaly

SCHEMA_VERSION = 1
KIND_WORDS = {
    "spike": "spike",
    "level_shift": "level shift",
    "drift": "drift",
    "purchase": "commitment purchase",
}


def anomaly_dict(a: StoredAnomaly, history: bool = True) -> dict:
    out = {
        "id": a.id,
        "subject": {a.dim: a.key},
        "kind": a.kind,
        "status": a.status,
        "start": a.start,
        "detected_on": a.detected_on,
        "last_day": a.last_day,
        "measure": a.measure,
        "currency": a.currency,
        "expected": round(a.expected, 2),
        "actual": round(a.actual, 2),
        "impact": round(a.impact, 2),
        "expected_to_date": round(a.expected_to_date, 2),
        "actual_to_date": round(a.actual_to_date, 2),
        "impact_to_date": round(a.actual_to_date - a.expected_to_date, 2),
        "part_of": a.part_of,
        "root_cause": list(a.root_cause),
        "gpu_activity": a.gpu_activity,
    }
    if history:
        out["status_history"] = list(a.history)
    return out


def anomaly_lines(a: StoredAnomaly) -> list[str]:
    """Two or three lines: what, how much, why."""
    money = lambda x: format_money(x, a.currency)  # noqa: E731
    what = KIND_WORDS.get(a.kind, a.kind)
    days = a.start if a.last_day == a.start else f"{a.start} … {a.last_day}"
    if a.kind == "purchase":
        return [f"{a.key}: {what} of {money(a.actual)} on {a.start} (BilledCost) [{a.id}]"]
    to_date = a.actual_to_date - a.expected_to_date
    lines = [
        f"{a.dim} {a.key}: {what} since {a.start} (detected {a.detected_on}, {a.status}) [{a.id}]",
        f"  {money(a.actual)} against {money(a.expected)} expected on the day it was "
        f"detected (+{money(a.impact)}); {money(to_date)} over {days}",
    ]
    if a.root_cause:
        top = ", ".join(
            f"{c['dimension']} {c['value']} +{money(c['impact'])}" for c in a.root_cause[:3]
        )
        lines.append(f"  why: {top}")
    if a.gpu_activity:
        g = a.gpu_activity
        lines.append(
            f"  GPUs: {g['busy_share'] * 100:.0f}% busy on {g['nodes']} node(s), "
            f"{format_money(g['idle_dollars'], 'USD')} idle"
        )
    return lines
