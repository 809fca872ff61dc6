"""`python -m bot sync` and `status` with a configured Cost Explorer source (in process,
boto3 against moto), and the scheduler's jobs."""

from __future__ import annotations

from datetime import date

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.cli import main
from finops_bot.config import load_settings
from finops_bot.errors import ConfigError
from scheduled import billing
from tests.finops_bot.sources.test_aws_ce import TODAY, aws, page, queue, window_days  # noqa: F401

CONFIG = """
[[sources]]
name = "aws-prod"
type = "aws_cost_explorer"
interval_hours = 6
refresh_days = 5
tag_key = "project"
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "finops-bot.toml"
    path.write_text(CONFIG)
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    return path


def test_sync_then_status(aws, config, tmp_path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setattr("bot.clock.datetime", _FixedDatetime)
    queue(page(window_days(date(2026, 11, 17), TODAY)))
    db = str(tmp_path / "s.db")
    assert main(["sync", "--db", db, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "aws-prod: synced 2026-11-17 … 2026-11-22, 12 rows, 2 API call(s)" in out
    assert main(["status", "--db", db, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "sync aws-prod [aws_cost_explorer] every 6 h: last success" in out
    assert "API calls last 2 / total 2 (USD 0.02 at 0.01 each)" in out
    assert "Data through, per provider and source:\n  AWS: 2026-11-22 (aws-prod, loaded" in out


def test_sync_errors_are_sentences(config, tmp_path, capsys):
    assert (
        main(["sync", "--source", "gcp", "--db", str(tmp_path / "x.db"), "--config", str(config)])
        == 1
    )
    assert "no such source; configured: aws-prod" in capsys.readouterr().err
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert main(["sync", "--db", str(tmp_path / "x.db"), "--config", str(empty)]) == 1
    assert "no [[sources]] in the config file" in capsys.readouterr().err


def test_scheduler_one_job_per_source_coalesced_never_overlapping():
    settings = load_settings({}, config_path=None)
    from finops_bot.sources.base import SourceConfig

    sources = (SourceConfig("aws-prod", "aws_cost_explorer", 6), SourceConfig("az", "x", 12))
    scheduler = BackgroundScheduler()
    ids = billing.register(scheduler, sources, lambda name: None)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert ids == ["billing-sync:aws-prod", "billing-sync:az"]
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
    assert jobs["billing-sync:az"].trigger.interval.total_seconds() == 12 * 3600
    assert settings.sources == ()


def test_scheduler_runs_each_source_at_start():
    import threading

    from finops_bot.sources.base import SourceConfig

    ran, done = [], threading.Event()

    def run(name):
        ran.append(name)
        done.set()

    from datetime import UTC, datetime

    scheduler = BackgroundScheduler()
    config = (SourceConfig("aws-prod", "aws_cost_explorer"),)
    billing.register(scheduler, config, run, first_run=datetime.now(UTC))
    scheduler.start()
    try:
        assert done.wait(5)
    finally:
        scheduler.shutdown(wait=False)
    assert ran == ["aws-prod"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[sources]]\ntype = "aws_cost_explorer"\n', "give it a name"),
        ('[[sources]]\nname = "a"\n', "give it a type"),
        ('[[sources]]\nname = "a"\ntype = "t"\n[[sources]]\nname = "a"\ntype = "t"\n', "twice"),
        ('[[sources]]\nname = "a"\ntype = "t"\nrefresh_days = 90\n', "refresh_days"),
        ('[[sources]]\nname = "a"\ntype = "t"\nclient_secret = "x"\n', "credentials come from"),
    ],
)
def test_bad_source_config(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings({}, config_path=path)


def test_unknown_source_type(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\nname = "a"\ntype = "oracle_magic"\n')
    assert main(["sync", "--db", str(tmp_path / "x.db"), "--config", str(path)]) == 1
    assert "unknown type 'oracle_magic'; use one of aws_cost_explorer" in capsys.readouterr().err


class _FixedDatetime:
    """bot.deps reads the clock through datetime.now; pin it to the test's today."""

    @staticmethod
    def now(tz=None):
        from datetime import datetime

        return datetime(2026, 11, 22, 12, 0, tzinfo=tz)
