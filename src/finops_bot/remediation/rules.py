"""``[remediation]``: the kill switch, dry-run, the sweep's timer, expiry, the rate limit,
the owner tag and who approves (per project too), validated once; a bad key or value is
named in one line. Without the table nothing is proposed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from finops_bot.errors import ConfigError
from finops_bot.tables import check_table, key_name

KEYS = {
    "enabled",
    "dry_run",
    "propose_after_minutes",
    "expiry_hours",
    "max_actions_per_hour",
    "owner_tag",
    "project_tag",
    "approvers",
    "projects",
}
PROJECT_KEYS = {"approvers", "require_approver"}
_ID = re.compile(r"([UWS][A-Z0-9]{2,}|[^@\s]+@[^@\s]+\.[^@\s]+)")
_TAG = re.compile(r"[A-Za-z0-9_.:/=+@-]{1,63}")
LIMITS = {
    "propose_after_minutes": (5, 10080),
    "expiry_hours": (1, 720),
    "max_actions_per_hour": (1, 1000),
}


@dataclass(frozen=True)
class ProjectRule:
    approvers: frozenset[str] = frozenset()
    require_approver: bool = False


@dataclass(frozen=True)
class RemediationRules:
    configured: bool = False  # a [remediation] table was given
    enabled: bool = True  # the kill switch (with the table)
    dry_run: bool = True
    propose_after_minutes: int = 120
    expiry_hours: int = 24
    max_actions_per_hour: int = 10  # per cloud account; real executions only
    owner_tag: str = "owner"
    project_tag: str = "project"  # the project require_approver and approvers go by
    approvers: frozenset[str] = frozenset()  # user ids, user-group ids or emails
    projects: tuple[tuple[str, ProjectRule], ...] = ()

    @property
    def active(self) -> bool:
        return self.configured and self.enabled

    def project(self, name: str | None) -> ProjectRule:
        return next((r for p, r in self.projects if p == name), ProjectRule())

    def approvers_for(self, project: str | None) -> frozenset[str]:
        return self.approvers | self.project(project).approvers


def parse_remediation(raw: Any) -> RemediationRules:
    if raw is None:
        return RemediationRules()
    check_table(raw, "[remediation]", KEYS, "dry_run = true")
    values: dict[str, Any] = {"configured": True}
    for key in ("enabled", "dry_run"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(f"[remediation] {key}: give true or false, not {raw[key]!r}")
            values[key] = raw[key]
    for key, (low, high) in LIMITS.items():
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(
                    f"[remediation] {key}: give a whole number from {low} to {high}, not {value!r}"
                )
            values[key] = value
    for key in ("owner_tag", "project_tag"):
        if key in raw:
            tag = raw[key]
            if not isinstance(tag, str) or not _TAG.fullmatch(tag):
                raise ConfigError(
                    f'[remediation] {key}: give a tag key such as "{key[:-4]}", not {tag!r}'
                )
            values[key] = tag
    values["approvers"] = _ids("[remediation] approvers", raw.get("approvers", []))
    values["projects"] = _projects(raw.get("projects", {}))
    return RemediationRules(**values)


def _ids(where: str, raw: Any) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and _ID.fullmatch(x) for x in raw):
        raise ConfigError(
            f'{where}: give a list of Slack user or user-group ids or emails, e.g. ["U0OPS", '
            f'"S0PLATFORM", "ops@acme.ai"], not {raw!r}'
        )
    return frozenset(x.lower() if "@" in x else x for x in raw)


def _projects(raw: Any) -> tuple[tuple[str, ProjectRule], ...]:
    if not isinstance(raw, dict):
        raise ConfigError(
            '[remediation.projects."name"] must be tables, e.g. require_approver = true'
        )
    out = []
    for name, table in sorted(raw.items()):
        where = f'[remediation.projects."{key_name(name)}"]'
        check_table(table, where, PROJECT_KEYS, "require_approver = true")
        need = table.get("require_approver", False)
        if not isinstance(need, bool):
            raise ConfigError(f"{where} require_approver: give true or false, not {need!r}")
        approvers = _ids(f"{where} approvers", table.get("approvers", []))
        out.append((str(name), ProjectRule(approvers, need)))
    return tuple(out)
