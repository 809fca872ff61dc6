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


from finops_bot.config import load_slack_settings  # noqa: E402

SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def test_slack_settings_http_and_socket_mode(tmp_path):
    s = load_slack_settings(SLACK_ENV)
    assert (s.socket_mode, s.api_url, s.port, s.verify_token) == (
        False,
        "https://slack.com/api/",
        3000,
        True,
    )
    s = load_slack_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_APP_TOKEN": "xapp-1",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "FINOPS_BOT_VERIFY_TOKEN": "false",
        },
        port=0,
        host="127.0.0.1",
    )
    assert (s.socket_mode, s.api_url, s.port, s.verify_token) == (
        True,
        "http://127.0.0.1:9/api/",
        0,
        False,
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[server]\nhost = "127.0.0.1"\nport = 8080\n[slack]\napi_url = "http://x/api/"\n'
    )
    s = load_slack_settings(SLACK_ENV, cfg)
    assert (s.host, s.port, s.api_url) == ("127.0.0.1", 8080, "http://x/api/")


@pytest.mark.parametrize(
    ("env", "text", "message"),
    [
        ({}, "", "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_SIGNING_SECRET": "s"}, "", "starts with xoxb-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "", "SLACK_SIGNING_SECRET is not set"),
        ({**SLACK_ENV, "SLACK_APP_TOKEN": "xoxb-2"}, "", "app-level token"),
        ({**SLACK_ENV, "FINOPS_BOT_VERIFY_TOKEN": "maybe"}, "", "FINOPS_BOT_VERIFY_TOKEN"),
        ({**SLACK_ENV, "SLACK_API_URL": "slack.com"}, "", "SLACK_API_URL"),
        (SLACK_ENV, '[server]\nport = "web"\n', "port 'web' is not a number"),
        (SLACK_ENV, '[slack]\nbot_token = "xoxb-in-file"\n', "secrets are read only from the env"),
    ],
)
def test_bad_slack_settings_are_named(tmp_path, env, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_slack_settings(env, cfg)
