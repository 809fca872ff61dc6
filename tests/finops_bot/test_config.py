"""Settings: file + environment, validated once, with errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from finops_bot.config import load_settings
from finops_bot.errors import ConfigError


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    assert (s.db_path, s.measure) == (Path("finops-bot.db"), "EffectiveCost")
    assert s.allocation_keys["project"] == ("project",)


def test_file_then_environment_then_arguments(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[cache]\ndb = "from-file.db"\n[questions]\nmeasure = "billed_cost"\n'
        '[allocation]\nproject = ["project", "proj"]\nteam = "org"\n'
    )
    s = load_settings({}, config_path=cfg)
    assert (s.db_path, s.measure) == (Path("from-file.db"), "BilledCost")
    assert s.allocation_keys["team"] == ("org",)
    s = load_settings({"FINOPS_BOT_DB": "env.db"}, config_path=cfg)
    assert s.db_path == Path("env.db")
    assert load_settings({"FINOPS_BOT_DB": "env.db"}, cfg, db_path="arg.db").db_path == Path(
        "arg.db"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cache\n", "not valid TOML"),
        ('[questions]\nmeasure = "cheapest"\n', "questions.measure"),
        ("[allocation]\nproject = 3\n", r"\[allocation\] project"),
        ('[allocation]\ncolour = ["c"]\n', "unknown column"),
    ],
)
def test_bad_settings_are_named(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings({}, config_path=cfg)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"FINOPS_BOT_CONFIG": str(tmp_path / "nope.toml")})
