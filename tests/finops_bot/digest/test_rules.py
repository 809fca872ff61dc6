"""[[digests]], [projects."…"] and [alerts] validated once; a bad key or value is named in
one line (a channel name instead of its id, an unknown time zone, a time that is not HH:MM)."""

from __future__ import annotations

from datetime import time

import pytest

from finops_bot.config import load_settings
from finops_bot.digest.rules import parse_digest_rules
from finops_bot.errors import ConfigError

CONFIG = """
[[digests]]
name = "nlp-daily"
kind = "daily"
channel = "C0NLP"
at = "09:00"
timezone = "Europe/Madrid"
projects = ["bert-training"]

[projects."bert-training"]
owner = "Alice@acme.ai"

[alerts]
anomaly_over = 1000
idle_gpu_dollars_over = 50
channel = "C0OPS"
"""


def test_the_issue_example_parses(tmp_path):
    path = tmp_path / "finops-bot.toml"
    path.write_text(CONFIG)
    rules = load_settings({}, path).digests
    (digest,) = rules.digests
    assert (digest.name, digest.kind, digest.channel, digest.at) == (
        "nlp-daily", "daily", "C0NLP", time(9, 0)
    )  # fmt: skip
    assert digest.zone.key == "Europe/Madrid" and digest.scope.describe() == "project bert-training"
    assert rules.owner_of("bert-training") == "alice@acme.ai"
    assert (rules.alerts.anomaly_over, rules.alerts.channel) == (1000.0, "C0OPS")


@pytest.mark.parametrize(
    ("digests", "projects", "alerts", "named"),
    [
        ({"name": "x"}, None, None, "[[digests]]: write each as [[digests]]"),
        ([{"name": "x", "channel": "#nlp"}], None, None, "channel = '#nlp': give the channel's id"),
        ([{"name": "x", "channel": "C0X", "timezone": "Mars/Base"}], None, None, "timezone"),
        ([{"name": "x", "channel": "C0X", "at": "9am"}], None, None, "at: give a local time"),
        ([{"name": "x", "channel": "C0X", "kind": "hourly"}], None, None, "kind: give one of"),
        ([{"name": "x", "channel": "C0X", "team": ["a"]}], None, None, "team: unknown key"),
        ([{"name": "x", "channel": "C0X"}] * 2, None, None, "is used twice"),
        ([], {"p": {"owner": "alice"}}, None, '[projects."p"]: owner: give an email'),
        ([], None, {"anomaly_over": 5}, "[alerts] channel: say where urgent alerts go"),
        ([], None, {"anomaly_over": -1, "channel": "C0X"}, "[alerts] anomaly_over"),
    ],
)
def test_a_bad_key_or_value_is_named_in_one_line(digests, projects, alerts, named):
    with pytest.raises(ConfigError) as caught:
        parse_digest_rules(digests, projects, alerts)
    assert named in str(caught.value) and "\n" not in str(caught.value)
