"""[anomalies] validated once; a bad key or value is named in one line."""

from __future__ import annotations

import pytest

from finops_bot.anomalies.rules import AnomalyRules, parse_anomaly_rules
from finops_bot.errors import ConfigError


def test_the_defaults_and_an_override():
    assert parse_anomaly_rules(None) == AnomalyRules()
    rules = parse_anomaly_rules(
        {
            "min_daily_impact": 100,
            "min_relative": 0.3,
            "dimensions": ["project", "service"],
            "overrides": [{"project": "BERT Training", "min_daily_impact": 200}],
        }
    )
    assert rules.dimensions == ("project", "service")
    assert rules.for_subject("project", "bert-training").min_daily_impact == 200
    assert rules.for_subject("project", "bert-training").min_relative == 0.3
    assert rules.for_subject("project", "other").min_daily_impact == 100


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("x", "[anomalies] must be a table"),
        ({"min_impact": 5}, "[anomalies] min_impact: unknown key"),
        ({"min_daily_impact": -1}, "[anomalies] min_daily_impact: give a number ≥ 0"),
        ({"min_relative": 20}, "[anomalies] min_relative: give a fraction such as 0.2"),
        ({"min_history_days": 3}, "[anomalies] min_history_days: give a number of days"),
        ({"dimensions": ["projects"]}, "[anomalies] dimensions: give a list of"),
        ({"overrides": {"project": "x"}}, "[anomalies] overrides: write each as"),
        ({"overrides": [{"min_relative": 0.5}]}, "[[anomalies.overrides]] #1: name one subject"),
        ({"overrides": [{"project": "x", "purchase_event_min": 5}]}, "#1: purchase_event_min"),
    ],
)
def test_a_bad_key_or_value_is_named_in_one_line(raw, named):
    with pytest.raises(ConfigError) as caught:
        parse_anomaly_rules(raw)
    assert named in str(caught.value) and "\n" not in str(caught.value)
