"""Replay detection over a range of days, as if the cache held data through each day d:
detection is causal (a day's alert reads only the days before and on it), so one pass over
the data through the range's end is that replay. Alerts are those raised (detected_on) in
the range; root causes are over the days through detection, as they were known then."""

from __future__ import annotations

import time
from datetime import date

from sqlite_utils import Database

from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find
from finops_bot.render.anomalies import SCHEMA_VERSION, anomaly_dict
from finops_bot.store import anomalies as stored


def run(db: Database, rules: AnomalyRules, start: date, end: date, by: str, measure: str) -> dict:
    """The backtest contract: {schema_version, from, to, by, anomalies, events, feedback}."""
    began = time.perf_counter()
    labels = stored.labels(db)
    result = find(db, rules, end, measure, dims=[by], to_date=False, labels=labels, since=start)
    first, last = start.isoformat(), end.isoformat()
    alerts = sorted(
        (a for a in result.anomalies if first <= a.detected_on <= last),
        key=lambda a: (a.detected_on, a.dim, a.key),
    )  # in the order they were raised
    events = [e for e in result.events if first <= e.start <= last]
    return {
        "schema_version": SCHEMA_VERSION,
        "from": first,
        "to": last,
        "by": by,
        "measure": measure,
        "thresholds": {
            "min_daily_impact": rules.min_daily_impact,
            "min_relative": rules.min_relative,
            "min_history_days": rules.min_history_days,
        },
        "anomalies": [_alert(a) for a in alerts],
        "events": [_alert(e) for e in events],
        "feedback": feedback(alerts, labels),
        "series": result.series,
        "seconds": round(time.perf_counter() - began, 3),
    }


def _alert(a) -> dict:
    out = anomaly_dict(a, history=False)
    for key in ("status", "last_day", "expected_to_date", "actual_to_date", "impact_to_date"):
        out.pop(key, None)  # what happened after detection is not part of a replay
    return out


def feedback(alerts: list, labels: dict[str, str]) -> dict:
    """Precision against what people said: of the replayed alerts someone labelled, the
    share not marked not_anomaly."""
    labelled = [labels[a.id] for a in alerts if a.id in labels]
    wrong = sum(1 for status in labelled if status == "not_anomaly")
    return {
        "labelled": len(labelled),
        "not_anomaly": wrong,
        "precision": round((len(labelled) - wrong) / len(labelled), 4) if labelled else None,
        "labels_in_cache": len(labels),
    }
