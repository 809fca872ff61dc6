"""The anomalies commands' contract: `anomalies [--as-of D] [--json]`, `anomalies backtest
--from --to [--by] [--min-daily-impact] [--min-relative] --json`, `anomalies mark`."""

from __future__ import annotations

import json

from tests.bot.test_cli import AS_OF, run


def test_list_backtest_and_mark(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    early = json.loads(run("anomalies", "--as-of", "2026-11-03", "--json", db=db).stdout)
    assert early["data_through"] == "2026-11-02"  # sees the charge days before --as-of
    (spike,) = early["anomalies"]
    assert spike["subject"] == {"project": "llm-finetune"} and spike["status"] == "open"
    assert spike["detected_on"] == spike["start"] == "2026-11-02"
    assert spike["root_cause"][0]["impact"] > 0 and spike["currency"] == "USD"
    assert early["events"][0]["kind"] == "purchase"
    now = json.loads(run("anomalies", "--json", "--as-of", AS_OF, db=db).stdout)
    assert now["anomalies"] == []  # the spike is over; it is listed as recent
    assert {a["subject"]["project"] for a in now["recent"]} == {"llm-finetune"}
    recent = now["recent"][0]
    assert recent["status_history"][0]["by"] == "detector" and recent["status"] == "resolved"
    report = json.loads(
        run(
            "anomalies", "backtest", "--from", "2026-07-01", "--to", "2026-11-21", "--json", db=db
        ).stdout  # fmt: skip
    )
    assert {"schema_version", "from", "to", "by", "anomalies", "events", "feedback"} <= set(report)
    assert report["by"] == "project"
    assert [(a["subject"]["project"], a["kind"]) for a in report["anomalies"]] == [
        ("vision-research", "level_shift"),
        ("llm-finetune", "spike"),
    ]
    for a in report["anomalies"]:
        assert {"subject", "detected_on", "start", "expected", "actual", "impact",
                "currency", "kind", "root_cause"} <= set(a)  # fmt: skip
        assert {"dimension", "value", "impact"} <= set(a["root_cause"][0])
    strict = json.loads(
        run(
            "anomalies",
            "backtest",
            "--from",
            "2026-07-01",
            "--to",
            "2026-11-21",
            "--min-daily-impact",
            "10000",
            "--json",
            db=db,
        ).stdout  # fmt: skip
    )
    assert strict["anomalies"] == [] and strict["thresholds"]["min_daily_impact"] == 10000
    marked = run("anomalies", "mark", spike["id"], "not_anomaly", "--by", "alice", db=db)
    assert "not_anomaly (by alice)" in marked.stdout
    labelled = json.loads(
        run(
            "anomalies", "backtest", "--from", "2026-11-01", "--to", "2026-11-21", "--json", db=db
        ).stdout  # fmt: skip
    )
    assert labelled["feedback"] == {"labelled": 1, "not_anomaly": 1, "precision": 0.0,
                                    "labels_in_cache": 1}  # fmt: skip


def test_bad_arguments_are_one_line(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    bad = run("anomalies", "backtest", "--from", "2026-11-10", "--to", "2026-11-01", db=db,
              check=False)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: --to 2026-11-01 is before --from 2026-11-10"
    )
    by = run("anomalies", "backtest", "--from", "2026-11-01", "--to", "2026-11-10", "--by",
             "projects", db=db, check=False)  # fmt: skip
    assert by.returncode == 2 and "--by 'projects'" in by.stderr
    mark = run("anomalies", "mark", "an_nope", "expected", db=db, check=False)
    assert mark.returncode == 2 and "no anomaly 'an_nope'" in mark.stderr
    empty = run("anomalies", db=tmp_path / "empty.db")
    assert "No billing data yet" in empty.stdout


def test_hostile_but_well_formed_arguments_are_one_line(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    for args in (
        ("anomalies", "--as-of", "0001-01-01"),
        ("anomalies", "backtest", "--from", "0001-01-01", "--to", "9999-12-31"),
        ("digest", "idle", "--as-of", "9999-12-31"),
        ("anomalies", "backtest", "--from", "2026-07-01", "--to", "2026-11-21",
         "--min-relative", "nan"),
        ("anomalies", "backtest", "--from", "2026-07-01", "--to", "2026-11-21",
         "--min-daily-impact", "1e400"),
    ):  # fmt: skip
        out = run(*args, db=db, check=False)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    far = json.loads(run("anomalies", "backtest", "--from", "2026-06-25", "--to", "2028-01-01",
                         "--json", db=db).stdout)  # fmt: skip
    assert len(far["anomalies"]) == 2  # past the data's end: its last day, not nothing
