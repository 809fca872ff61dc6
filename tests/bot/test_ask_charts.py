"""`python -m bot ask --json`: a series answer's chart written as a PNG and listed under
``files`` (beside the cache by default, or --chart-dir); every other field unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot.deps
from bot.cli import main
from tests.bot.test_cli import AS_OF, run
from tests.series import series_answer

PIL = pytest.importorskip("PIL.Image")
FIELDS = {
    "schema_version", "question", "kind", "title", "period", "filters", "measure", "unit",
    "currency", "total", "totals", "rows", "more_rows", "rows_total", "rows_totals",
    "previous", "data_through", "loaded_at", "freshness", "summed", "candidates",
    "suggestions", "did_you_mean", "message", "notes", "basis",
}  # fmt: skip


class SeriesEngine:
    def __init__(self, *args, **kwargs):
        pass

    def ask(self, question, today, now, asker=None, scope=None):
        return series_answer(question)


def ask_json(capsys, *args: str) -> dict:
    assert main(["ask", "daily spend last 7 days", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_series_chart_is_written_beside_the_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bot.deps.Deps, "engine", lambda self, db: SeriesEngine())
    db = tmp_path / "cache.db"
    payload = ask_json(capsys, "--db", str(db))
    (entry,) = payload["files"]
    path = Path(entry["path"])
    assert path.parent == (tmp_path / "charts").resolve() and path.is_file()
    assert entry["mimetype"] == "image/png" and entry["bytes"] == path.stat().st_size
    assert entry["title"] == "Daily spend · project bert-training · last 7 days"
    assert entry["alt_text"].startswith("Line chart of Daily spend")
    assert PIL.open(path).size == (960, 432)
    assert set(payload) >= FIELDS and payload["kind"] == "series"


def test_chart_dir_and_text_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bot.deps.Deps, "engine", lambda self, db: SeriesEngine())
    db, out = tmp_path / "cache.db", tmp_path / "out" / "deep"
    payload = ask_json(capsys, "--db", str(db), "--chart-dir", str(out))
    assert Path(payload["files"][0]["path"]).parent == out.resolve()
    assert main(["ask", "daily spend", "--db", str(db), "--chart-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "▅▃▅█▁▂▆" in text and f"Chart: {out.resolve()}" in text
    # text without --chart-dir writes nothing
    assert main(["ask", "daily spend", "--db", str(tmp_path / "other.db")]) == 0
    assert "Chart:" not in capsys.readouterr().out and not (tmp_path / "charts").exists()


def test_a_chart_that_cannot_be_written_still_prints_the_answer(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bot.deps.Deps, "engine", lambda self, db: SeriesEngine())
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["ask", "daily", "--json", "--db", str(tmp_path / "c.db"),
                 "--chart-dir", str(blocker)]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert json.loads(captured.out)["files"] == [] and "chart was not written" in captured.err


def test_other_answers_list_no_files_and_keep_every_field(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    payload = json.loads(
        run("ask", "top 3 projects last month", "--as-of", AS_OF, "--json", db=db).stdout
    )
    assert payload["files"] == [] and set(payload) >= FIELDS
    assert payload["kind"] == "top" and not (tmp_path / "charts").exists()


def test_end_to_end_the_engine_s_own_series(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    payload = json.loads(
        run("ask", "daily spend last 7 days", "--as-of", AS_OF, "--json", db=db).stdout
    )
    assert payload["kind"] == "series" and payload["granularity"] == "day"
    (entry,) = payload["files"]
    assert Path(entry["path"]).parent == (tmp_path / "charts").resolve()
    assert PIL.open(entry["path"]).size == (960, 432) and entry["bytes"] < 100_000
