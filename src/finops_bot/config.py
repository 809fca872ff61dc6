"""Settings: read once from a TOML file plus the environment, validated, then passed in.

Nothing here reads the environment on its own: the composition root passes ``environ``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finops_bot.errors import ConfigError

MEASURES = {
    "effectivecost": "EffectiveCost",
    "billedcost": "BilledCost",
    "listcost": "ListCost",
}
ALLOCATION_COLUMNS = ("project", "team", "owner")
DEFAULT_CONFIG_FILE = "finops-bot.toml"


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("finops-bot.db")
    measure: str = "EffectiveCost"
    # allocation column -> tag keys that feed it (matched case-insensitively, trimmed,
    # with or without a provider prefix such as "user:")
    allocation_keys: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {c: (c,) for c in ALLOCATION_COLUMNS}
    )
    config_path: Path | None = None


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


def _allocation(raw: Any) -> dict[str, tuple[str, ...]]:
    keys = {c: (c,) for c in ALLOCATION_COLUMNS}
    if raw is None:
        return keys
    if not isinstance(raw, dict):
        raise ConfigError('[allocation] must be a table such as: project = ["project", "proj"]')
    for column, value in raw.items():
        if column not in ALLOCATION_COLUMNS:
            raise ConfigError(
                f"[allocation] {column}: unknown column; use {', '.join(ALLOCATION_COLUMNS)}"
            )
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'[allocation] {column}: give a list of tag keys, e.g. ["{column}"]')
        keys[column] = tuple(v.strip() for v in value if v.strip())
    return keys


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
    return Settings(
        db_path=Path(db),
        measure=normalise_measure(measure, "questions.measure"),
        allocation_keys=_allocation(data.get("allocation")),
        config_path=Path(path) if path else None,
    )
