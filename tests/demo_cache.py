"""A demo cache built once through the real CLI (``demo --as-of``), in its own folder with
no FINOPS_BOT_* environment: → (its path, what the demo printed)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from bot.cli import main


def build_demo(folder: Path, as_of: str) -> tuple[Path, str]:
    path = folder / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for name in ("FINOPS_BOT_DB", "FINOPS_BOT_CONFIG"):
            mp.delenv(name, raising=False)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["demo", "--as-of", as_of, "--db", str(path)]) == 0
    return path, out.getvalue()
