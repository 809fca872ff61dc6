"""[remediation] validated once (remediation.rules.parse_remediation): the defaults, every
bad key or value named in one line, the per-project table, approvers as user ids, user-group
ids or emails; random TOML-ish tables never raise anything but ConfigError."""

from __future__ import annotations

import tomllib
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.errors import ConfigError
from finops_bot.remediation.rules import (
    KEYS,
    PROJECT_KEYS,
    ProjectRule,
    RemediationRules,
    parse_remediation,
)

BOUNDED = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_no_table_means_nothing_is_configured():
    rules = parse_remediation(None)
    assert rules == RemediationRules()
    assert not rules.configured and rules.enabled and not rules.active


def test_an_empty_table_gets_the_defaults():
    rules = parse_remediation({})
    assert rules.configured and rules.enabled and rules.active
    assert rules.dry_run is True
    assert rules.propose_after_minutes == 120
    assert rules.expiry_hours == 24
    assert rules.max_actions_per_hour == 10
    assert rules.owner_tag == "owner"
    assert rules.approvers == frozenset() and rules.projects == ()
    assert rules.project("anything") == ProjectRule()
    assert rules.approvers_for(None) == frozenset()


def test_every_value_given():
    rules = parse_remediation(
        {
            "enabled": False,
            "dry_run": False,
            "propose_after_minutes": 5,
            "expiry_hours": 720,
            "max_actions_per_hour": 1000,
            "owner_tag": "team:owner",
            "approvers": [],
        }
    )
    assert rules.configured and not rules.enabled and not rules.active
    assert not rules.dry_run
    assert (rules.propose_after_minutes, rules.expiry_hours, rules.max_actions_per_hour) == (
        5,
        720,
        1000,
    )
    assert rules.owner_tag == "team:owner"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("dry_run = true", "[remediation] must be a table"),
        ([], "[remediation] must be a table"),
        ({"dryrun": True}, "dryrun"),
        ({"approver": ["U0OPS"]}, "approver"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"dry_run": 0}, "dry_run"),
        ({"dry_run": "false"}, "dry_run"),
        ({"propose_after_minutes": 4}, "propose_after_minutes"),
        ({"propose_after_minutes": 10081}, "propose_after_minutes"),
        ({"propose_after_minutes": 30.0}, "propose_after_minutes"),
        ({"propose_after_minutes": "30"}, "propose_after_minutes"),
        ({"propose_after_minutes": True}, "propose_after_minutes"),
        ({"expiry_hours": 0}, "expiry_hours"),
        ({"expiry_hours": 721}, "expiry_hours"),
        ({"max_actions_per_hour": 0}, "max_actions_per_hour"),
        ({"max_actions_per_hour": 1001}, "max_actions_per_hour"),
        ({"max_actions_per_hour": -1}, "max_actions_per_hour"),
        ({"owner_tag": ""}, "owner_tag"),
        ({"owner_tag": "the owner"}, "owner_tag"),
        ({"owner_tag": "x" * 64}, "owner_tag"),
        ({"owner_tag": 5}, "owner_tag"),
        ({"owner_tag": "own\ner"}, "owner_tag"),
        ({"approvers": "U0OPS"}, "approvers"),
        ({"approvers": ["nobody"]}, "approvers"),
        ({"approvers": ["u0ops"]}, "approvers"),
        ({"approvers": ["U0"]}, "approvers"),
        ({"approvers": ["ops@acme"]}, "approvers"),
        ({"approvers": [5]}, "approvers"),
        ({"approvers": ["U0OPS", None]}, "approvers"),
        ({"projects": []}, "projects"),
        ({"projects": "llm"}, "projects"),
        ({"projects": {"llm": "strict"}}, '[remediation.projects."llm"] must be a table'),
        ({"projects": {"llm": {"require": True}}}, "require"),
        ({"projects": {"llm": {"require_approver": "yes"}}}, "require_approver"),
        ({"projects": {"llm": {"approvers": ["bad id"]}}}, "approvers"),
        ({"projects": {"llm": {"approvers": "U0OPS"}}}, "approvers"),
    ],
)
def test_a_bad_key_or_value_is_named_in_one_line(raw, key):
    with pytest.raises(ConfigError) as caught:
        parse_remediation(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert key in message
    assert message.startswith("[remediation")


def test_an_unknown_key_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown key; use approvers, dry_run, enabled"):
        parse_remediation({"dryrun": True})
    with pytest.raises(ConfigError, match="unknown key; use approvers, require_approver"):
        parse_remediation({"projects": {"llm": {"require": True}}})


def test_a_bad_value_is_quoted_back():
    with pytest.raises(ConfigError, match=r"from 5 to 10080, not 4$"):
        parse_remediation({"propose_after_minutes": 4})
    with pytest.raises(ConfigError, match=r"give true or false, not 'yes'$"):
        parse_remediation({"enabled": "yes"})


def test_approvers_are_ids_groups_or_emails():
    rules = parse_remediation({"approvers": ["U0OPS", "S0PLATFORM", "Ops@Acme.AI"]})
    # emails fold to lower case (the click's email is compared folded); ids stay as Slack
    # spells them
    assert rules.approvers == frozenset({"U0OPS", "S0PLATFORM", "ops@acme.ai"})


def test_the_projects_table_from_toml():
    raw = tomllib.loads(
        """
[remediation]
dry_run = false
approvers = ["U0OPS"]

[remediation.projects."llm-finetune"]
require_approver = true
approvers = ["S0LLMLEADS", "lead@acme.ai"]

[remediation.projects.notebooks]
approvers = ["U0HEIDI"]
"""
    )["remediation"]
    rules = parse_remediation(raw)
    assert [name for name, _ in rules.projects] == ["llm-finetune", "notebooks"]  # sorted
    llm = rules.project("llm-finetune")
    assert llm == ProjectRule(frozenset({"S0LLMLEADS", "lead@acme.ai"}), True)
    assert rules.project("notebooks") == ProjectRule(frozenset({"U0HEIDI"}), False)
    assert rules.project("bert-training") == ProjectRule()
    assert rules.project(None) == ProjectRule()
    assert rules.approvers_for("llm-finetune") == {"U0OPS", "S0LLMLEADS", "lead@acme.ai"}
    assert rules.approvers_for("bert-training") == {"U0OPS"}
    assert not rules.dry_run


def test_an_empty_project_table_changes_nothing():
    rules = parse_remediation({"projects": {"recsys": {}}})
    assert rules.project("recsys") == ProjectRule()
    assert rules.projects == (("recsys", ProjectRule()),)


# -- fuzz --------------------------------------------------------------------------------
_SCALARS = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["U0OPS", "S0PLATFORM", "ops@acme.ai", "owner", "u0", "a@b"])
    | st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1))
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_KEY = st.sampled_from(sorted(KEYS)) | st.text(max_size=12)
_PROJECT = st.dictionaries(st.sampled_from(sorted(PROJECT_KEYS)) | st.text(max_size=6), _VALUES)
_TABLE = st.dictionaries(_KEY, _VALUES, max_size=6) | st.fixed_dictionaries(
    {},
    optional={
        "approvers": st.lists(_SCALARS, max_size=3),
        "projects": st.dictionaries(st.text(max_size=8), _PROJECT | _VALUES, max_size=3),
        "propose_after_minutes": _SCALARS,
        "owner_tag": _SCALARS,
        "enabled": _SCALARS,
    },
)


@settings(max_examples=300, **BOUNDED)
@given(raw=_TABLE | _VALUES)
def test_random_tables_raise_only_config_errors(raw):
    try:
        rules = parse_remediation(raw)
    except ConfigError as exc:
        assert str(exc).startswith("[remediation")
        return
    assert isinstance(rules, RemediationRules) and rules.configured
    assert 5 <= rules.propose_after_minutes <= 10080
    assert all(isinstance(a, str) for a in rules.approvers_for(None))
