"""Least-privilege policies, built from what the code declares: the ``permissions`` of every
billing source class (finops_bot.sources.registry) and of every remediation reader and
action (registry.declared). `python -m bot permissions [--cloud C]` prints them, and the
README holds the same output (a test keeps the two equal).

AWS: one IAM policy, a statement per purpose; GCP: a custom role; Azure: a custom role
definition. Nothing is a wildcard: each entry is one API call the bot makes."""

from __future__ import annotations

import json
from collections.abc import Iterable

from finops_bot.remediation.registry import CLOUDS, declared
from finops_bot.sources.registry import SOURCE_TYPES

HEADINGS = {
    "aws": "AWS: IAM policy (attach it to the role or user the bot runs as)",
    "gcp": "GCP: custom role (gcloud iam roles create finops_bot --organization=ORG_ID "
    "--file=role.json)",
    "azure": "Azure: custom role (az role definition create --role-definition @role.json)",
}
AZURE_SCOPE = "/subscriptions/<subscription-id>"


def source_classes(cloud: str | None = None) -> list[type]:
    """The billing source classes (of one cloud), by type name: ``aws_…``, ``gcp_…``,
    ``azure_…``."""
    return [
        cls
        for kind, cls in sorted(SOURCE_TYPES.items())
        if cloud is None or kind.split("_", 1)[0] == cloud
    ]


def remediation_classes(cloud: str | None = None) -> list[type]:
    """The registered readers and actions (of one cloud)."""
    return list(declared(cloud))


def _union(classes: Iterable[type]) -> list[str]:
    return sorted({p for cls in classes for p in getattr(cls, "permissions", ())})


def undeclared() -> list[str]:
    """Names of the classes (sources, readers, actions) that declare no permissions."""
    classes = [*source_classes(), *remediation_classes()]
    return [cls.__name__ for cls in classes if not getattr(cls, "permissions", ())]


def aws_policy() -> dict:
    """An IAM policy document: billing reads, then the remediation reads and actions."""
    statements = []
    for sid, actions in (
        ("FinopsBotBilling", _union(source_classes("aws"))),
        ("FinopsBotRemediation", _union(remediation_classes("aws"))),
    ):
        if actions:
            statements.append({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def gcp_role() -> dict:
    """A GCP custom role (the fields of `gcloud iam roles create --file`)."""
    return {
        "title": "finops-bot",
        "description": "finops-bot: reads billing data and instances; stops, starts and "
        "labels (keep-until) only the instances a person approves",
        "stage": "GA",
        "includedPermissions": _union([*source_classes("gcp"), *remediation_classes("gcp")]),
    }


def azure_role() -> dict:
    """An Azure custom role definition (`az role definition create --role-definition`)."""
    return {
        "Name": "finops-bot",
        "IsCustom": True,
        "Description": "finops-bot: queries Cost Management and reads virtual machines; "
        "stops, starts and tags (keep-until) only the ones a person approves",
        "Actions": _union([*source_classes("azure"), *remediation_classes("azure")]),
        "NotActions": [],
        "AssignableScopes": [AZURE_SCOPE],
    }


BUILDERS = {"aws": aws_policy, "gcp": gcp_role, "azure": azure_role}


def render(cloud: str | None = None) -> str:
    """Per cloud (all, in the order aws, gcp, azure, by default): a heading line, then the
    policy as JSON (indent 2). Clouds are separated by a blank line."""
    clouds = (cloud,) if cloud else CLOUDS
    return "\n\n".join(f"{HEADINGS[c]}\n{json.dumps(BUILDERS[c](), indent=2)}" for c in clouds)
