"""Lazy cloud SDKs: a configured source whose SDK is missing fails its sync with one line
saying what to install, before any client is made, and the rest of the sync goes on."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from finops_bot import adaptors
from finops_bot.adaptors import LazyImport, MissingDependency
from finops_bot.ingest.tags import TagRules
from finops_bot.sources import SourceConfig, build_source
from finops_bot.sources.sync import refresh_source, sync_source
from finops_bot.store import connect

TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 6, tzinfo=UTC)
SRC = Path(adaptors.__file__).parent

# type, options, the module made missing, the line the sync fails with
CASES = [
    (
        "aws_cost_explorer",
        {},
        "boto3",
        "aws_cost_explorer needs boto3: pip install 'finops-bot[aws]'",
    ),
    (
        "aws_s3_export",
        {"bucket": "b"},
        "boto3",
        "aws_s3_export needs boto3: pip install 'finops-bot[aws]'",
    ),
    (
        "azure_cost_management",
        {"scope": "/subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d"},
        "azure.mgmt.costmanagement",
        "azure_cost_management needs azure-mgmt-costmanagement: pip install 'finops-bot[azure]'",
    ),
    (
        "gcp_bigquery_export",
        {"table": "p.billing.gcp_billing_export_v1_X"},
        "google.cloud.bigquery",
        "gcp_bigquery_export needs google-cloud-bigquery: pip install 'finops-bot[gcp]'",
    ),
    (
        "gcp_cloud_billing",
        {},
        "google.cloud.billing_v1",
        "gcp_cloud_billing needs google-cloud-billing: pip install 'finops-bot[gcp]'",
    ),
]


def no_client(*args, **kwargs):
    raise AssertionError("no client may be made when the SDK is missing")


FACTORIES = dict.fromkeys(
    ["aws_session", "azure_client", "bigquery_client", "gcp_billing_client", "gcp_catalog_client"],
    no_client,
)


@pytest.mark.parametrize(("kind", "options", "module", "line"), CASES, ids=[c[0] for c in CASES])
def test_a_missing_sdk_fails_the_sync_with_one_line(
    tmp_path, monkeypatch, kind, options, module, line
):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    source = build_source(SourceConfig("src", kind, options=options), FACTORIES)
    db = connect(tmp_path / "c.db")
    if hasattr(source, "refresh"):
        result = refresh_source(db, source, now=NOW)
    else:
        result = sync_source(db, source, today=TODAY, now=NOW, rules=TagRules({}))
    assert result.error == line and "\n" not in result.error
    assert result.api_calls == 0
    status = db.execute("SELECT last_error FROM source_status WHERE name = 'src'").fetchone()
    assert status == (line,)  # kept for `status`


def test_sync_prints_the_line_and_status_keeps_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    monkeypatch.setitem(sys.modules, "boto3", None)
    config = tmp_path / "finops-bot.toml"
    config.write_text('[[sources]]\nname = "aws-prod"\ntype = "aws_cost_explorer"\n')
    args = ["--db", str(tmp_path / "c.db"), "--config", str(config)]
    assert main(["sync", *args]) == 1
    err = capsys.readouterr().err
    assert err == (
        "aws-prod: FAILED after 0 API call(s): "
        "aws_cost_explorer needs boto3: pip install 'finops-bot[aws]'\n"
    )
    assert main(["status", *args]) == 0
    assert "last error" in (out := capsys.readouterr().out)
    assert "aws_cost_explorer needs boto3: pip install 'finops-bot[aws]'" in out


def test_lazy_import_loads_on_first_attribute_only(monkeypatch):
    lazy = LazyImport("json", "json", "none")
    assert lazy.dumps([1]) == "[1]"
    with pytest.raises(AttributeError):
        lazy.__deepcopy__  # noqa: B018 - probes never import
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependency, match=r"^finops-bot needs boto3: pip install"):
        adaptors.boto3.Session  # noqa: B018


def test_a_broken_install_says_what_failed(monkeypatch):
    lazy = LazyImport("tests_broken_sdk", "broken-sdk", "gcp")

    def broken(name, *a, **k):
        raise ModuleNotFoundError("No module named 'grpc_missing_dep'", name="grpc_missing_dep")

    monkeypatch.setattr(adaptors.importlib, "import_module", broken)
    with pytest.raises(MissingDependency) as exc:
        lazy.load("gcp_bigquery_export")
    assert str(exc.value).startswith(
        "gcp_bigquery_export needs broken-sdk: pip install 'finops-bot[gcp]' "
        "(importing tests_broken_sdk failed: No module named 'grpc_missing_dep')"
    )


def test_only_adaptors_imports_a_cloud_sdk():
    """Every SDK import goes through finops_bot.adaptors (and so says what to install)."""
    repo = SRC.parent.parent
    offenders = []
    for folder in (SRC, repo / "bot", repo / "handlers", repo / "scheduled"):
        for path in folder.rglob("*.py"):
            if path == SRC / "adaptors.py":
                continue
            for n, text in enumerate(path.read_text().splitlines(), 1):
                words = text.split()
                if words[:1] in (["import"], ["from"]) and words[1].split(".")[0] in (
                    "boto3",
                    "botocore",
                    "google",
                    "azure",
                ):
                    offenders.append(f"{path.relative_to(repo)}:{n}: {text.strip()}")
    assert offenders == []
