"""The least-privilege policies: every billing source, reader and action declares its
permissions; the README holds exactly what `python -m bot permissions` prints; nothing is
a wildcard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from finops_bot.remediation import policies
from finops_bot.remediation.registry import CLOUDS, Action, declared
from finops_bot.sources.registry import SOURCE_TYPES

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Least-privilege cloud permissions"
CLASSES = [*SOURCE_TYPES.values(), *declared()]


def actions_of(cloud: str) -> list[str]:
    if cloud == "aws":
        return [a for s in policies.aws_policy()["Statement"] for a in s["Action"]]
    if cloud == "gcp":
        return policies.gcp_role()["includedPermissions"]
    return policies.azure_role()["Actions"]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_declares_permissions(cls):
    permissions = cls.permissions
    assert isinstance(permissions, tuple) and permissions, f"{cls.__name__} declares none"
    assert all(isinstance(p, str) and p.strip() == p and p for p in permissions)


def test_every_cloud_has_its_sources_and_remediation():
    assert policies.undeclared() == []
    for cloud in CLOUDS:
        assert policies.source_classes(cloud), cloud
        assert any(issubclass(c, Action) for c in declared(cloud)), cloud


def test_undeclared_names_a_class_without_permissions(monkeypatch):
    class Silent:
        permissions = ()

    monkeypatch.setitem(SOURCE_TYPES, "aws_silent", Silent)
    assert policies.undeclared() == ["Silent"]


def test_aws_policy_has_one_statement_per_purpose():
    policy = policies.aws_policy()
    assert policy["Version"] == "2012-10-17"
    billing, remediation = policy["Statement"]
    assert billing["Sid"] == "FinopsBotBilling" and remediation["Sid"] == "FinopsBotRemediation"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
        assert statement["Action"] == sorted(set(statement["Action"]))
    assert {"ce:GetCostAndUsage", "s3:ListBucket", "s3:GetObject"} == set(billing["Action"])


def test_roles_are_sorted_and_unique():
    role = policies.gcp_role()
    assert role["title"] == "finops-bot" and role["stage"] == "GA" and role["description"]
    assert role["includedPermissions"] == sorted(set(role["includedPermissions"]))
    azure = policies.azure_role()
    assert azure["Name"] == "finops-bot" and azure["IsCustom"] is True
    assert azure["Actions"] == sorted(set(azure["Actions"])) and azure["NotActions"] == []
    assert azure["AssignableScopes"] == ["/subscriptions/<subscription-id>"]


@pytest.mark.parametrize("cls", [*declared()], ids=lambda cls: f"{cls.cloud}-{cls.__name__}")
def test_each_reader_and_action_is_in_its_clouds_policy(cls):
    assert set(cls.permissions) <= set(actions_of(cls.cloud))


@pytest.mark.parametrize("cls", SOURCE_TYPES.values(), ids=lambda cls: cls.__name__)
def test_each_source_is_in_its_clouds_policy(cls):
    cloud = cls.kind.split("_", 1)[0]
    assert set(cls.permissions) <= set(actions_of(cloud))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_wildcards(cloud):
    assert actions_of(cloud)
    assert not [a for a in actions_of(cloud) if "*" in a]


def readme_blocks() -> list[tuple[str, str]]:
    """(the line before the fence, the JSON) of each ```json block of the section."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README has no {SECTION!r}"
    section = text.split(SECTION, 1)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    return re.findall(r"^(\S[^\n]*)\n\n```json\n(.*?)\n```$", section, flags=re.M | re.S)


def test_readme_holds_the_policies():
    blocks = readme_blocks()
    assert [json.loads(body) for _, body in blocks] == [
        policies.aws_policy(),
        policies.gcp_role(),
        policies.azure_role(),
    ]
    for cloud, (heading, body) in zip(CLOUDS, blocks, strict=True):
        assert f"{heading}\n{body}" == policies.render(cloud), f"README's {cloud} block is stale"


def test_render_all_is_each_cloud_in_order():
    assert policies.render(None) == "\n\n".join(policies.render(c) for c in CLOUDS)


def test_cli_prints_the_gcp_role(capsys):
    assert main(["permissions", "--cloud", "gcp"]) == 0
    heading, _, body = capsys.readouterr().out.partition("\n")
    assert heading == policies.HEADINGS["gcp"]
    assert json.loads(body) == policies.gcp_role()


def test_cli_prints_every_cloud(capsys):
    assert main(["permissions"]) == 0
    out = capsys.readouterr().out
    assert out == policies.render(None) + "\n"


def test_cli_refuses_an_unknown_cloud(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["permissions", "--cloud", "oracle"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
