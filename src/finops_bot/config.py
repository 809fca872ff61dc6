"""Settings: read once from a TOML file plus the environment, validated, then passed in.

Nothing here reads the environment on its own: the composition root passes ``environ``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finops_bot.access import AccessPolicy, parse_access
from finops_bot.anomalies.rules import AnomalyRules, parse_anomaly_rules
from finops_bot.digest.rules import DigestRules, parse_digest_rules
from finops_bot.errors import ConfigError
from finops_bot.forecast.budget_rules import BudgetRules, parse_budgets
from finops_bot.gpu.fleet import FleetRules, parse_fleet_rules
from finops_bot.gpu.prices import parse_overrides
from finops_bot.questions.rules import QuestionRules, parse_question_rules
from finops_bot.remediation.rules import RemediationRules, parse_remediation
from finops_bot.sources.base import SourceConfig
from finops_bot.store.schema import DIM_COLUMNS, KEY_COLUMNS

MEASURES = {
    "effectivecost": "EffectiveCost",
    "billedcost": "BilledCost",
    "listcost": "ListCost",
}
ALLOCATION_COLUMNS = ("project", "team", "owner")
# a configured dimension's name: one simple word, not a built-in dimension or column
DIMENSION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
BUILT_IN_NAMES = frozenset({*DIM_COLUMNS, *DIM_COLUMNS.values(), *KEY_COLUMNS, "dimensions"})
DEFAULT_CONFIG_FILE = "finops-bot.toml"
SECRET_KEYS = {"bot_token", "signing_secret", "app_token", "token"}


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("finops-bot.db")
    measure: str = "EffectiveCost"
    # allocation column (and configured dimension) -> tag keys that feed it (matched
    # case-insensitively, trimmed, with or without a provider prefix such as "user:")
    allocation_keys: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {c: (c,) for c in ALLOCATION_COLUMNS}
    )
    # [allocation] dimensions: tag keys kept as dimensions of their own (cube dimensions
    # named like this, in lower case); their tag keys are in allocation_keys
    dimensions: tuple[str, ...] = ()
    config_path: Path | None = None
    sources: tuple[SourceConfig, ...] = ()
    gpu_prices: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    fleet: FleetRules = FleetRules()
    questions: QuestionRules = QuestionRules()
    access: AccessPolicy = AccessPolicy()
    anomalies: AnomalyRules = AnomalyRules()
    digests: DigestRules = DigestRules()
    remediation: RemediationRules = RemediationRules()
    budgets: BudgetRules = BudgetRules()


def _sources(raw: Any) -> tuple[SourceConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ConfigError("[[sources]] must be an array of tables, one per source")
    out, seen = [], set()
    for i, table in enumerate(raw, 1):
        name, kind = table.get("name"), table.get("type")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f'[[sources]] #{i}: give it a name, e.g. name = "aws-prod"')
        if name in seen:
            raise ConfigError(f"[[sources]] {name}: the name is used twice")
        seen.add(name)
        if not isinstance(kind, str):
            raise ConfigError(
                f'[[sources]] {name}: give it a type, e.g. type = "aws_cost_explorer"'
            )
        leaked = sorted(SECRET_KEYS & set(table)) + sorted(
            k for k in table if "secret" in k.lower() or "password" in k.lower()
        )
        if leaked:
            raise ConfigError(
                f"[[sources]] {name}: {leaked[0]}: credentials come from the "
                "environment or the cloud's own credential chain, not this file"
            )
        try:
            interval = float(table.get("interval_hours", 6))
            refresh = int(table.get("refresh_days", 5))
        except (TypeError, ValueError):
            raise ConfigError(
                f"[[sources]] {name}: interval_hours and refresh_days must be numbers"
            ) from None
        if interval <= 0 or not 1 <= refresh <= 31:
            raise ConfigError(
                f"[[sources]] {name}: interval_hours must be > 0 and refresh_days between 1 and 31"
            )
        options = {
            k: v
            for k, v in table.items()
            if k not in ("name", "type", "interval_hours", "refresh_days")
        }
        out.append(SourceConfig(name.strip(), kind, interval, refresh, options))
    return tuple(out)


def normalise_measure(value: str, setting: str = "measure") -> str:
    key = str(value).replace("_", "").replace(" ", "").lower()
    if key not in MEASURES:
        raise ConfigError(
            f"{setting}: {value!r} is not a cost measure; use one of {', '.join(MEASURES.values())}"
        )
    return MEASURES[key]


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _configured_dimensions(raw: Any) -> tuple[str, ...]:
    """[allocation] dimensions = ["environment", "costcenter"]: validated names."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ConfigError('[allocation] dimensions: give a list of tag keys, e.g. ["environment"]')
    out: list[str] = []
    for value in raw:
        name = value.strip().lower()
        if not DIMENSION_NAME.match(name):
            raise ConfigError(
                f"[allocation] dimensions: {value!r} is not a simple word (letters, digits, "
                "- and _, starting with a letter, at most 40)"
            )
        if name in BUILT_IN_NAMES:
            raise ConfigError(
                f"[allocation] dimensions: {value!r} is a built-in dimension; choose another name "
                f'and list the tag keys that feed it, e.g. {name}_tag = ["{name}"]'
            )
        if name in out:
            raise ConfigError(f"[allocation] dimensions: {value!r} is listed twice")
        out.append(name)
    return tuple(out)


def _allocation(raw: Any) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """→ (column or dimension → its tag keys, the configured dimensions)."""
    keys = {c: (c,) for c in ALLOCATION_COLUMNS}
    if raw is None:
        return keys, ()
    if not isinstance(raw, dict):
        raise ConfigError('[allocation] must be a table such as: project = ["project", "proj"]')
    dimensions = _configured_dimensions(raw.get("dimensions"))
    keys.update({d: (d,) for d in dimensions})
    for column, value in raw.items():
        if column == "dimensions":
            continue
        if column not in keys:
            raise ConfigError(
                f"[allocation] {column}: unknown column; use {', '.join(ALLOCATION_COLUMNS)} "
                "or a name listed in dimensions"
            )
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'[allocation] {column}: give a list of tag keys, e.g. ["{column}"]')
        keys[column] = tuple(v.strip() for v in value if v.strip())
    fed: dict[str, str] = {}
    for column, tag_keys in keys.items():
        for tag_key in tag_keys:
            other = fed.setdefault(tag_key.lower(), column)
            if other != column:
                raise ConfigError(
                    f"[allocation] the tag key {tag_key!r} feeds both {other} and {column}; "
                    "give it to one of them"
                )
    return keys, dimensions


def load_settings(
    environ: Mapping[str, str],
    config_path: str | Path | None = None,
    db_path: str | Path | None = None,
) -> Settings:
    """Build Settings: defaults < config file < environment < explicit arguments."""
    path = config_path or environ.get("FINOPS_BOT_CONFIG")
    data: dict[str, Any] = {}
    if path:
        data = _read_file(Path(path))
    elif Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
        data = _read_file(Path(path))

    cache = data.get("cache", {})
    questions = data.get("questions", {})
    if not isinstance(cache, dict) or not isinstance(questions, dict):
        raise ConfigError("[cache] and [questions] must be tables in the config file")

    db = db_path or environ.get("FINOPS_BOT_DB") or cache.get("db") or "finops-bot.db"
    if not isinstance(db, str | Path) or not str(db).strip():
        raise ConfigError("cache.db (or FINOPS_BOT_DB) must be a file path")
    measure = environ.get("FINOPS_BOT_MEASURE") or questions.get("measure") or "EffectiveCost"
    allocation_keys, dimensions = _allocation(data.get("allocation"))
    question_rules = parse_question_rules(
        questions, data.get("aliases"), data.get("people"), dimensions
    )
    return Settings(
        db_path=Path(db),
        measure=normalise_measure(measure, "questions.measure"),
        allocation_keys=allocation_keys,
        dimensions=dimensions,
        config_path=Path(path) if path else None,
        sources=_sources(data.get("sources")),
        gpu_prices=parse_overrides(data.get("gpu_prices")),
        fleet=parse_fleet_rules(data.get("fleet")),
        questions=question_rules,
        access=parse_access(data.get("access")),
        anomalies=parse_anomaly_rules(data.get("anomalies")),
        digests=parse_digest_rules(data.get("digests"), data.get("projects"), data.get("alerts")),
        remediation=parse_remediation(data.get("remediation")),
        budgets=parse_budgets(data.get("budgets"), normalise_measure, question_rules.fiscal_start),
    )


@dataclass(frozen=True)
class SlackSettings:
    """What `serve` needs. Secrets come only from the environment."""

    bot_token: str
    signing_secret: str | None
    app_token: str | None  # set → Socket Mode; unset → HTTP with /slack/events
    api_url: str  # Web API base URL, e.g. https://slack.com/api/ (tests point it at a fake)
    verify_token: bool  # call auth.test at start (needs network)
    host: str
    port: int

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


def load_slack_settings(
    environ: Mapping[str, str],
    config_path: str | Path | None = None,
    host: str | None = None,
    port: int | None = None,
) -> SlackSettings:
    """Validate what `serve` needs; raise ConfigError naming the first missing/bad setting."""
    path = config_path or environ.get("FINOPS_BOT_CONFIG")
    if not path and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    data = _read_file(Path(path)) if path else {}
    slack = data.get("slack", {})
    server = data.get("server", {})
    if not isinstance(slack, dict) or not isinstance(server, dict):
        raise ConfigError("[slack] and [server] must be tables in the config file")
    leaked = sorted(SECRET_KEYS & set(slack))
    if leaked:
        raise ConfigError(
            f"[slack] {leaked[0]}: secrets are read only from the environment "
            "(SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN); remove it from the file"
        )

    bot_token = environ.get("SLACK_BOT_TOKEN", "").strip()
    if not bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: export the app's Bot User OAuth Token (xoxb-...)"
        )
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN does not look like a bot token (it starts with xoxb-)")
    app_token = environ.get("SLACK_APP_TOKEN", "").strip() or None
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN does not look like an app-level token (xapp-...)")
    secret = environ.get("SLACK_SIGNING_SECRET", "").strip() or None
    if not app_token and not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify "
            "requests (or set SLACK_APP_TOKEN for Socket Mode)"
        )

    api_url = environ.get("SLACK_API_URL") or slack.get("api_url") or "https://slack.com/api/"
    if not str(api_url).startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL {api_url!r} must be an http(s) URL")
    if not api_url.endswith("/"):
        api_url += "/"

    verify_raw = environ.get("FINOPS_BOT_VERIFY_TOKEN", str(slack.get("verify_token", "true")))
    verify = str(verify_raw).strip().lower()
    if verify not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"FINOPS_BOT_VERIFY_TOKEN {verify_raw!r}: use true or false")

    host = host or environ.get("FINOPS_BOT_HOST") or server.get("host") or "0.0.0.0"
    raw_port = (
        port if port is not None else environ.get("FINOPS_BOT_PORT", server.get("port", 3000))
    )
    try:
        port_number = int(raw_port)
    except (TypeError, ValueError):
        raise ConfigError(f"port {raw_port!r} is not a number (serve --port N)") from None
    if not 0 <= port_number <= 65535:
        raise ConfigError(f"port {port_number} is out of range 0-65535")
    return SlackSettings(
        bot_token=bot_token,
        signing_secret=secret,
        app_token=app_token,
        api_url=str(api_url),
        verify_token=verify in ("true", "1", "yes"),
        host=str(host),
        port=port_number,
    )
