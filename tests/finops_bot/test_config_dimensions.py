"""[allocation] dimensions: any configured tag key as a dimension, validated once."""

from __future__ import annotations

import pytest

from finops_bot.config import load_settings
from finops_bot.errors import ConfigError
from finops_bot.ingest.tags import TagRules


def _settings(tmp_path, text: str):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    return load_settings({}, config_path=cfg)


def test_dimensions_and_their_tag_keys(tmp_path):
    s = _settings(
        tmp_path,
        '[allocation]\ndimensions = ["Environment", "costcenter"]\n'
        'costcenter = ["costcenter", "cost_center"]\nteam = ["team", "org"]\n',
    )
    assert s.dimensions == ("environment", "costcenter")
    assert s.allocation_keys["environment"] == ("environment",)
    assert s.allocation_keys["costcenter"] == ("costcenter", "cost_center")
    assert s.allocation_keys["team"] == ("team", "org")
    rules = TagRules(s.allocation_keys)  # what bot.deps builds for imports
    assert rules.dimensions == ("costcenter", "environment")
    a = rules.allocate('{"user:Environment": " prod ", "cost_center": "cc-7", "x": "1"}')
    assert a.dims == '{"costcenter": "cc-7", "environment": "prod"}'
    assert a.rest == '{"x": "1"}'
    assert rules.allocate(None).dims == '{"costcenter": "", "environment": ""}'


def test_no_dimensions_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    assert s.dimensions == ()
    assert TagRules(s.allocation_keys).allocate('{"env": "prod"}').dims == ""


@pytest.mark.parametrize(
    "text, message",
    [
        ('dimensions = ["region"]', r"dimensions: 'region' is a built-in dimension"),
        ('dimensions = ["gpu"]', "'gpu' is a built-in dimension"),
        ('dimensions = ["service_name"]', "'service_name' is a built-in dimension"),
        ('dimensions = ["cost center"]', "'cost center' is not a simple word"),
        ('dimensions = ["9lives"]', "'9lives' is not a simple word"),
        ('dimensions = ["env", "ENV"]', "'ENV' is listed twice"),
        ('dimensions = "env"', "dimensions: give a list of tag keys"),
        ("dimensions = [3]", "dimensions: give a list of tag keys"),
        ('colour = ["c"]', "colour: unknown column"),
        ('dimensions = ["env"]\nenv = 4', r"\[allocation\] env: give a list"),
        ('dimensions = ["env"]\nproject = ["project", "env"]', "'env' feeds both"),
    ],
)
def test_a_bad_dimension_is_named_in_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as err:
        _settings(tmp_path, f"[allocation]\n{text}\n")
    assert "\n" not in str(err.value)
