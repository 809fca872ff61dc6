"""The one way a feature's TOML table is checked before its values are: a table, with only
the keys it knows; anything else is named in one line."""

from __future__ import annotations

import re
from typing import Any

from finops_bot.errors import ConfigError


def key_name(key: object) -> str:
    """A key as a person wrote it, or quoted when it is no simple word (one line always)."""
    text = str(key)
    return text if re.fullmatch(r"[\w.-]{1,40}", text) else repr(text[:40])


def check_table(raw: Any, where: str, keys: set[str], example: str) -> dict:
    """``raw`` when it is a table of known keys; else ConfigError naming the first problem."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table, e.g. {example}")
    unknown = sorted(set(raw) - keys, key=str)
    if unknown:
        raise ConfigError(
            f"{where} {key_name(unknown[0])}: unknown key; use {', '.join(sorted(keys))}"
        )
    return raw
