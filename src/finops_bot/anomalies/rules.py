"""``[anomalies]``: what counts as an anomaly, validated once; a bad key or value is named
in one line. Overrides use the access scope keys' dimensions (``project = "…"``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finops_bot.anomalies.detect import Thresholds
from finops_bot.errors import ConfigError
from finops_bot.providers import fold
from finops_bot.tables import check_table, key_name

DIMENSIONS = ("project", "team", "owner", "service", "account", "provider")
ALLOWED_DIMENSIONS = (*DIMENSIONS, "region", "category")
NUMBERS = {"min_daily_impact", "min_relative", "min_history_days", "purchase_event_min"}
KEYS = {*NUMBERS, "dimensions", "overrides"}


@dataclass(frozen=True)
class AnomalyRules:
    min_daily_impact: float = 50.0  # per day, in the series' own currency (never converted)
    min_relative: float = 0.20
    min_history_days: int = 21
    purchase_event_min: float = 1000.0  # BilledCost of one commitment purchase
    dimensions: tuple[str, ...] = DIMENSIONS
    overrides: tuple[tuple[str, str, Thresholds], ...] = ()  # (dim, folded name, limits)

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.min_daily_impact, self.min_relative, self.min_history_days)

    def for_subject(self, dim: str, key: str) -> Thresholds:
        """The thresholds of one subject: its override, else the table's."""
        folded = fold(key)
        for d, name, limits in self.overrides:
            if d == dim and name == folded:
                return limits
        return self.thresholds


def parse_anomaly_rules(raw: Any) -> AnomalyRules:
    if raw is None:
        return AnomalyRules()
    check_table(raw, "[anomalies]", KEYS, "min_daily_impact = 50")
    base = AnomalyRules()
    values = {k: _number(f"[anomalies] {k}", k, raw[k]) for k in NUMBERS if k in raw}
    dims = raw.get("dimensions", list(DIMENSIONS))
    if (
        not isinstance(dims, list)
        or not dims
        or not all(isinstance(d, str) and d in ALLOWED_DIMENSIONS for d in dims)
    ):
        raise ConfigError(
            f"[anomalies] dimensions: give a list of {', '.join(ALLOWED_DIMENSIONS)}, "
            f"e.g. {list(DIMENSIONS)!r}"
        )
    merged = {**{k: getattr(base, k) for k in NUMBERS}, **values}
    limits = Thresholds(
        merged["min_daily_impact"], merged["min_relative"], merged["min_history_days"]
    )
    overrides = tuple(_override(i, o, limits) for i, o in enumerate(_list(raw), 1))
    return AnomalyRules(**merged, dimensions=tuple(dims), overrides=overrides)


def _list(raw: dict) -> list:
    overrides = raw.get("overrides", [])
    if not isinstance(overrides, list):
        raise ConfigError(
            '[anomalies] overrides: write each as [[anomalies.overrides]] project = "…"'
        )
    return overrides


def _override(number: int, raw: Any, limits: Thresholds) -> tuple[str, str, Thresholds]:
    where = f"[[anomalies.overrides]] #{number}"
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: must be a table such as project = "bert-training"')
    subject = [k for k in raw if k in ALLOWED_DIMENSIONS]
    if len(subject) != 1 or not isinstance(raw[subject[0]], str) or not raw[subject[0]].strip():
        raise ConfigError(
            f'{where}: name one subject, e.g. project = "bert-training" '
            f"(dimensions: {', '.join(ALLOWED_DIMENSIONS)})"
        )
    unknown = set(raw) - {subject[0]} - (NUMBERS - {"purchase_event_min"})
    if unknown:
        raise ConfigError(
            f"{where}: {key_name(sorted(unknown)[0])}: unknown key; use min_daily_impact, "
            "min_relative or min_history_days"
        )
    numbers = {k: _number(f"{where} {k}", k, raw[k]) for k in raw if k in NUMBERS}
    merged = {
        "min_daily_impact": limits.min_daily_impact,
        "min_relative": limits.min_relative,
        "min_history_days": limits.min_history_days,
        **numbers,
    }
    return subject[0], fold(raw[subject[0]]), Thresholds(**merged)


def _number(where: str, key: str, value: Any) -> float | int:
    if key == "min_history_days":
        if not isinstance(value, int) or isinstance(value, bool) or not 7 <= value <= 365:
            raise ConfigError(f"{where}: give a number of days from 7 to 365, not {value!r}")
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: give a number ≥ 0, not {value!r}")
    if key == "min_relative" and value > 10:
        raise ConfigError(f"{where}: give a fraction such as 0.2 (20%), not {value!r}")
    return float(value)
