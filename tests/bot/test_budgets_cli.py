"""`budgets [--as-of D] [--json]` through `bot.cli.main`, on a cache the demo built (the
demo's budgets: nlp at risk): the JSON contract key for key with values consistent with
each other and with an independent SQL sum, --as-of moving the period, a config's own
[[budgets]] replacing the demo's, a bad [[budgets]] entry as one line, and a budget in a
currency the data does not have left unchecked (never a zero)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from tests.demo_cache import build_demo

AS_OF = "2026-11-22"
DEMO_BUDGETS = {"nlp", "vision", "bert-training", "all-spend"}
CONTRACT = {
    "name",
    "scope",
    "period",
    "amount",
    "currency",
    "measure",
    "spent",
    "percent",
    "data_through",
    "forecast",
    "crossed",
    "forecast_over",
    "driven_by",
}
FORECAST_KEYS = {"total", "low", "high", "interval", "method"}
DEFAULT_THRESHOLDS = (50, 80, 100)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("budgets-cli"), AS_OF)[0]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no ./finops-bot.toml is picked up
    for name in ("FINOPS_BOT_DB", "FINOPS_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys, *args: str, db: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*args, "--db", str(db)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def budgets_json(capsys, db: Path, *args: str) -> dict:
    code, out, err = cli(capsys, "budgets", "--json", *args, db=db)
    assert code == 0 and err == "", err
    return json.loads(out)


def by_name(payload: dict) -> dict[str, dict]:
    return {b["name"]: b for b in payload["budgets"]}


def sql(db: Path, where: str, first: str, last: str) -> float:
    """USD EffectiveCost straight from the ``focus_charges`` view."""
    con = sqlite3.connect(db)
    try:
        (total,) = con.execute(
            "SELECT SUM(EffectiveCost) FROM focus_charges WHERE BillingCurrency = 'USD' "
            f"AND ChargeDay BETWEEN ? AND ? AND ({where})",
            (first, last),
        ).fetchone()
    finally:
        con.close()
    return total or 0.0


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_consistent(b: dict, thresholds=DEFAULT_THRESHOLDS) -> None:
    """One checked budget's values agree with each other."""
    assert set(b) >= CONTRACT
    assert set(b["period"]) >= {"start", "end", "label"}
    assert b["percent"] == pytest.approx(b["spent"] / b["amount"] * 100, abs=0.005)
    assert set(b["crossed"]) <= set(thresholds)
    assert b["crossed"] == [t for t in thresholds if b["percent"] >= t]
    f = b["forecast"]
    assert set(f) >= FORECAST_KEYS
    assert f["low"] <= f["total"] <= f["high"]
    assert f["interval"] == 0.8 and f["method"]
    assert b["forecast_over"] == (f["total"] >= b["amount"])  # forecast_threshold 100
    assert b["problem"] is None


def test_the_json_contract_on_the_demo_cache(capsys, demo_db):
    payload = budgets_json(capsys, demo_db, "--as-of", AS_OF)
    assert payload["as_of"] == AS_OF
    found = by_name(payload)
    assert set(found) == DEMO_BUDGETS
    for b in found.values():
        assert_consistent(b)
        assert b["currency"] == "USD" and b["measure"] == "EffectiveCost"
        assert b["data_through"] == "2026-11-21"
    nlp = found["nlp"]
    assert nlp["scope"] == "team nlp" and nlp["amount"] == 90000
    assert nlp["period"] == {"start": "2026-11-01", "end": "2026-11-30", "label": "November 2026"}
    assert nlp["forecast_over"] and isinstance(nlp["driven_by"], str) and nlp["driven_by"]
    assert nlp["spent"] == pytest.approx(
        sql(demo_db, "team = 'nlp'", "2026-11-01", "2026-11-21"), abs=0.01
    )
    assert [n for n, b in found.items() if b["forecast_over"]] == ["nlp"]
    everything = found["all-spend"]
    assert everything["scope"] == "all spend"
    assert (everything["period"]["start"], everything["period"]["end"]) == (
        "2026-10-01",
        "2026-12-31",
    )
    assert everything["spent"] == pytest.approx(
        sql(demo_db, "1", "2026-10-01", "2026-11-21"), abs=0.01
    )
    assert found["bert-training"]["spent"] == pytest.approx(
        sql(demo_db, "project = 'bert-training'", "2026-11-01", "2026-11-21"), abs=0.01
    )


def test_the_text_form_names_every_budget(capsys, demo_db):
    code, out, err = cli(capsys, "budgets", "--as-of", AS_OF, db=demo_db)
    assert code == 0 and err == ""
    assert out.startswith(f"Budgets as billed before {AS_OF}:")
    for name in DEMO_BUDGETS:
        assert f"{name} (" in out
    assert "over budget" in out and "Driven by" in out


def test_as_of_moves_the_period(capsys, demo_db):
    october = by_name(budgets_json(capsys, demo_db, "--as-of", "2026-10-15"))
    nlp = october["nlp"]
    assert nlp["period"] == {"start": "2026-10-01", "end": "2026-10-31", "label": "October 2026"}
    assert nlp["data_through"] == "2026-10-14"
    assert nlp["spent"] == pytest.approx(
        sql(demo_db, "team = 'nlp'", "2026-10-01", "2026-10-14"), abs=0.01
    )
    for b in october.values():
        assert_consistent(b)
    september = by_name(budgets_json(capsys, demo_db, "--as-of", "2026-09-10"))
    assert september["all-spend"]["period"]["start"] == "2026-07-01"
    assert september["all-spend"]["period"]["end"] == "2026-09-30"
    assert september["vision"]["period"]["label"] == "September 2026"


OWN = """
[[budgets]]
name = "llm"
project = "llm-finetune"
amount = 30000
thresholds = [25, 50]
channel = "C0LLM"

[[budgets]]
name = "eu"
team = "nlp"
amount = 1000
currency = "EUR"
"""


def test_a_config_s_budgets_replace_the_demo_s(capsys, demo_db, tmp_path):
    config = write_config(tmp_path, OWN)
    found = by_name(budgets_json(capsys, demo_db, "--as-of", AS_OF, "--config", str(config)))
    assert set(found) == {"llm", "eu"}
    llm = found["llm"]
    assert_consistent(llm, thresholds=(25, 50))
    assert llm["scope"] == "project llm-finetune" and llm["crossed"] == [25, 50]
    assert llm["spent"] == pytest.approx(
        sql(demo_db, "project = 'llm-finetune'", "2026-11-01", "2026-11-21"), abs=0.01
    )
    # the question engine reads the same budgets
    code, out, err = cli(capsys, "ask", "are we on budget", "--as-of", AS_OF, "--json",
                         "--config", str(config), db=demo_db)  # fmt: skip
    assert code == 0, err
    assert {b["name"] for b in json.loads(out)["budgets"]} == {"llm", "eu"}


def test_the_demo_cache_s_questions_use_the_demo_budgets(capsys, demo_db):
    code, out, err = cli(capsys, "ask", "are we on budget", "--as-of", AS_OF, "--json",
                         db=demo_db)  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert payload["kind"] == "budget"
    assert {b["name"] for b in payload["budgets"]} == DEMO_BUDGETS
    assert [b["name"] for b in payload["budgets"] if b["forecast_over"]] == ["nlp"]


def test_a_budget_in_a_currency_the_data_lacks_is_not_checked(capsys, demo_db, tmp_path):
    config = write_config(tmp_path, OWN)
    eu = by_name(budgets_json(capsys, demo_db, "--as-of", AS_OF, "--config", str(config)))["eu"]
    assert eu["currency"] == "EUR" and eu["amount"] == 1000
    assert eu["problem"] and "EUR" in eu["problem"] and "USD" in eu["problem"]
    assert eu["spent"] is None and eu["percent"] is None and eu["crossed"] == []
    assert eu["forecast_over"] is False and eu["forecast"] is None
    code, out, _ = cli(capsys, "budgets", "--as-of", AS_OF, "--config", str(config), db=demo_db)
    assert code == 0 and "eu (team nlp, November 2026): not checked" in out


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ('name = "a"\namount = 1\ncolour = "red"', "colour: unknown key"),
        ('name = "a"\nteam = "t"\nproject = "p"\namount = 1', "at most one scope key"),
        ('name = "a"\namount = 1\namounts = { "2026-11" = 2 }', "one of them"),
        ('name = "a"\namount = 1\ncurrency = "dollars"', "3-letter code"),
        (
            'name = "a"\nperiod = "quarter"\namounts = { "2026-11" = 1 }',
            "'2026-11' is not the first month of a quarter",
        ),
    ],
)
def test_a_bad_budgets_entry_is_one_line(capsys, demo_db, tmp_path, entry, named):
    config = write_config(tmp_path, f"[[budgets]]\n{entry}\n")
    code, out, err = cli(capsys, "budgets", "--json", "--config", str(config), db=demo_db)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: [[budgets]]") and named in lines[0]
    assert "Traceback" not in err


def test_serve_answers_with_the_demo_budgets_but_its_ladder_posts_only_configured_ones(
    demo_db, tmp_path
):
    from bot.deps import build
    from bot.serving import _answer_budgets

    deps = build(str(demo_db), None)
    assert [b.name for b in _answer_budgets(deps).budgets][:1] == ["nlp"]
    assert deps.settings.budgets.budgets == ()  # what the ladder job is given
    config = tmp_path / "c.toml"
    config.write_text('[[budgets]]\nname = "mine"\namount = 10\n')
    mine = build(str(demo_db), str(config))
    assert [b.name for b in _answer_budgets(mine).budgets] == ["mine"]
