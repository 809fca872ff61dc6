"""Configured tag dimensions read like project (cube, combinations, names), and tag keys
nobody configured read from the facts: each against a computation over the raw file."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from finops_bot.days import day_number
from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.store import connect, reads, tagsets
from finops_bot.store.reads import Where
from finops_bot.store.schema import migrations
from tests.conftest import FOCUS_COLUMNS, NOW, charge, write_focus

NOV = (date(2026, 11, 1), date(2026, 11, 30))
RULES = TagRules(
    {"project": ("project",), "team": ("team",), "owner": ("owner",),
     "environment": ("environment", "env"), "costcenter": ("costcenter",)}
)  # fmt: skip
# tag spellings real exports use: capitals, provider prefixes, stray blanks
ENV_KEYS = ["Environment", "user:environment", " env", "aws:env"]


def _rows(n: int = 600) -> list[dict[str, str]]:
    rng = random.Random(3)
    rows = []
    for i in range(n):
        day = (date(2026, 11, 1) + timedelta(days=i % 20)).isoformat()
        tags = {"project": rng.choice(["bert", "vision", "llm"])}
        if rng.random() < 0.8:
            tags[rng.choice(ENV_KEYS)] = rng.choice(["prod", "dev", "Prod "])
        if rng.random() < 0.6:
            tags["CostCenter"] = rng.choice(["cc-1", "cc-2"])
        if rng.random() < 0.7:  # nobody configured these
            tags[rng.choice(["App", "user:app"])] = rng.choice(["web", "batch", "WEB"])
        row = charge(day, round(rng.uniform(-2, 50), 4), tags=tags, resource=f"r-{i % 40}",
                     currency=rng.choice(["USD", "USD", "USD", "EUR"]),
                     category=rng.choice(["Usage", "Usage", "Purchase", "Credit"]))  # fmt: skip
        rows.append(row)
    return rows


def _value(tags: dict, names: tuple[str, ...]) -> str | None:
    """The test's own key matching: exact (trimmed, any case) first, then after a prefix."""
    for exact in (True, False):
        for key, value in tags.items():
            k = key.strip().lower()
            k = k if exact else k.rsplit(":", 1)[-1].strip()
            if k in names and (exact or ":" in key):
                return str(value).strip()
    return None


def _expected(path: Path, names: tuple[str, ...], keep=lambda r: True, lower=False):
    """(value, currency) → EffectiveCost, straight from the CSV; '' for rows without."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if not keep(r):
                continue
            value = _value(json.loads(r["Tags"]) if r["Tags"] else {}, names) or ""
            out[(value.lower() if lower else value, r["BillingCurrency"])] += float(
                r["EffectiveCost"]
            )
    return dict(out)


@pytest.fixture
def cache(db, tmp_path):
    path = write_focus(tmp_path / "tagged.csv", _rows())
    import_file(db, path, rules=RULES, now=NOW)
    return db, path


def _as_dict(rows) -> dict[tuple[str, str], float]:
    return {(v, c): t for v, c, t in rows}


def _of(expected: dict[tuple[str, str], float], *values: str) -> dict[str, float]:
    """Currency → total of the values given."""
    out: dict[str, float] = defaultdict(float)
    for (value, currency), total in expected.items():
        if value in values:
            out[currency] += total
    return dict(out)


def test_a_configured_dimension_reads_like_project(cache):
    db, path = cache
    expected = _expected(path, ("environment", "env"))
    got = _as_dict(reads.grouped(db, Where(), "environment", *NOV, "EffectiveCost"))
    assert got == pytest.approx(expected)
    prod = reads.totals(db, Where.of({"environment": ["prod", "Prod"]}), *NOV, "EffectiveCost")
    assert prod == pytest.approx(_of(expected, "prod", "Prod"))
    cc = _as_dict(reads.grouped(db, Where(), "costcenter", *NOV, "EffectiveCost"))
    assert cc == pytest.approx(_expected(path, ("costcenter",)))
    assert reads.tag_dimensions(db) == ["costcenter", "environment"]
    assert {("environment", "prod"), ("costcenter", "cc-2")} <= {
        (d, k) for d, k, _ in reads.names(db)
    }


def test_several_terms_on_dimensions_read_the_combinations(cache):
    db, path = cache
    both = Where.of({"environment": ["prod"], "costcenter": ["cc-1"]})
    keep = lambda r: _value(json.loads(r["Tags"]), ("costcenter",)) == "cc-1"  # noqa: E731
    expected = _of(_expected(path, ("environment", "env"), keep), "prod")
    assert reads.totals(db, both, *NOV, "EffectiveCost") == pytest.approx(expected)
    days = reads.series(db, both, *NOV, "EffectiveCost")
    assert sum(t for _, c, t in days if c == "USD") == pytest.approx(expected["USD"])
    # a project broken down by a configured dimension, and the reverse
    bert = lambda r: json.loads(r["Tags"])["project"] == "bert"  # noqa: E731
    where = Where.of({"project": ["bert"], "costcenter": ["cc-1", "cc-2"]})
    by_env = _as_dict(reads.grouped(db, where, "environment", *NOV, "EffectiveCost"))
    has_cc = lambda r: bert(r) and _value(json.loads(r["Tags"]), ("costcenter",))  # noqa: E731
    assert by_env == pytest.approx(_expected(path, ("environment", "env"), has_cc))
    october = (date(2026, 10, 1), date(2026, 10, 31))
    where = Where.of({"project": ["bert", "llm"]})
    now, _ = reads.grouped_pair(db, where, "costcenter", NOV, october, "EffectiveCost")
    two = lambda r: json.loads(r["Tags"])["project"] in ("bert", "llm")  # noqa: E731
    assert _as_dict(now) == pytest.approx(_expected(path, ("costcenter",), two))
    usage = reads.totals(db, Where.of({"environment": ["dev"]}), *NOV, "EffectiveCost", ("Usage",))
    used = lambda r: r["ChargeCategory"] == "Usage"  # noqa: E731
    assert usage == pytest.approx(_of(_expected(path, ("environment", "env"), used), "dev"))


def test_a_tag_nobody_configured_is_read_from_the_facts(cache):
    db, path = cache
    expected = _expected(path, ("app",), lower=True)
    web = reads.tag_totals(db, "APP", "web", *NOV, "EffectiveCost")  # any case, any prefix
    assert web == pytest.approx(_of(expected, "web"))
    grouped = _as_dict(reads.tag_grouped(db, "app", *NOV, "EffectiveCost"))
    assert grouped == pytest.approx(_expected(path, ("app",)), abs=1e-6)
    assert "app" in reads.tag_keys(db) and "environment" not in reads.tag_keys(db)
    used = lambda r: r["ChargeCategory"] == "Usage" and r["ChargePeriodStart"] < "2026-11-08"  # noqa: E731
    week = (date(2026, 11, 1), date(2026, 11, 7))
    got = reads.tag_totals(db, "app", ["batch"], *week, "EffectiveCost", categories=("Usage",))
    assert got == pytest.approx(_of(_expected(path, ("app",), used, True), "batch"))
    vision = lambda r: json.loads(r["Tags"])["project"] == "vision"  # noqa: E731
    got = reads.tag_totals(db, "app", "web", *NOV, "EffectiveCost",
                           where=Where.of({"project": ["vision"]}))  # fmt: skip
    assert got == pytest.approx(_of(_expected(path, ("app",), vision, True), "web"))
    assert reads.tag_totals(db, "app", "nothing", *NOV, "EffectiveCost") == {}
    assert reads.tag_totals(db, "no-such-key", "x", *NOV, "EffectiveCost") == {}


def test_every_way_of_scanning_gives_the_same_sums(cache, monkeypatch):
    db, _ = cache
    baseline = _as_dict(reads.tag_grouped(db, "app", *NOV, "EffectiveCost"))
    monkeypatch.setattr(tagsets, "PARALLEL_ROWS", 0)  # several connections
    monkeypatch.setattr(tagsets, "MAX_WORKERS", 3)
    monkeypatch.setattr(tagsets.os, "cpu_count", lambda: 3)
    parallel = _as_dict(reads.tag_grouped(db, "app", *NOV, "EffectiveCost"))
    assert parallel == pytest.approx(baseline)
    monkeypatch.setattr(tagsets, "MAX_SUMS", 1)  # grouped by tag set and combination
    assert _as_dict(reads.tag_grouped(db, "app", *NOV, "EffectiveCost")) == pytest.approx(baseline)


def test_tags_of_gpu_hours(db, tmp_path):
    rows = [charge("2026-11-02", 10, tags={"app": "train"}), charge("2026-11-02", 3, tags={})]
    for row in rows:
        row["ResourceType"] = "p4d.24xlarge"  # an instance type where a FOCUS file names it
    path = write_focus(tmp_path / "gpu.csv", rows, columns=FOCUS_COLUMNS)
    import_file(db, path, rules=RULES, now=NOW)
    assert reads.tag_totals(db, "app", "train", *NOV, "GPUHours") == {"": 24 * 8}
    assert reads.tag_grouped(db, "app", *NOV, "GPUHours") == [("train", "", 192.0), ("", "", 192.0)]


def test_m012_keeps_an_older_cache_readable(db_path):
    db = Database(db_path)
    migrations.apply(db, stop_before="m012_gpu_charges_and_tag_dimensions")
    db.execute(
        "INSERT INTO charge_keys (id, provider, currency, charge_category, project, "
        "billing_period_start) VALUES (1, 'AWS', 'USD', 'Usage', 'bert', '2026-11-01')"
    )
    db.execute('INSERT INTO tag_sets (id, tags) VALUES (1, \'{"app": "web"}\')')
    db.execute(
        "INSERT INTO loads (id, source, kind, first_rowid, last_rowid, rows, first_day, "
        "last_day, loaded_at) VALUES (1, 'file:/x', 'file', 1, 2, 2, '2026-11-01', '2026-11-02', "
        "'2026-11-22T06:00:00+00:00')"
    )
    first = day_number(date(2026, 11, 1))
    for i, day in ((1, first), (2, first + 1)):
        db.execute(
            "INSERT INTO charges (id, day, key_id, billed_cost, effective_cost, tags_id) "
            "VALUES (?, ?, 1, 5, 5, 1)",
            (i, day),
        )
        db.execute("INSERT INTO daily_keys VALUES (1, ?, 1, 5, 5, 0)", (day,))
        db.execute("INSERT INTO cube VALUES ('*', '*', ?, 'USD', 'Usage', 1, 5, 5, 0)", (day,))
    db.conn.commit()
    db.close()
    migrated = connect(db_path)
    blocks = migrated.execute("SELECT * FROM charge_blocks").fetchall()
    assert blocks == [(1, 1, 2, first, first + 1)]  # one block per load, its day span
    assert migrated.execute(
        "SELECT instance_type, gpu_model, dims FROM charge_keys"
    ).fetchall() == [("", "", "")]
    assert reads.totals(migrated, Where(), *NOV, "EffectiveCost") == {"USD": 10.0}
    assert reads.totals(migrated, Where(), *NOV, "GPUHours") == {}
    assert reads.tag_totals(migrated, "app", "web", *NOV, "BilledCost") == {"USD": 10.0}


def test_a_sync_window_replaces_gpu_hours_with_its_charges(db):
    import pyarrow as pa

    from finops_bot.ingest.importer import load_batches
    from finops_bot.ingest.normalize import FOCUS_FIELDS

    field_of = {name: f for f, name in FOCUS_FIELDS.items()}

    def batch(days, hours):
        rows = [charge(f"2026-11-{d:02d}", 30, resource=f"i-{d}") for d in days]
        for row in rows:
            row.update(ResourceType="p4d.24xlarge", ConsumedQuantity=str(hours))
        return [pa.RecordBatch.from_pylist(rows)]

    common = dict(source="aws-ce", kind="sync", rules=RULES, now=NOW)
    load_batches(db, batch(range(1, 11), 24), field_of, **common)
    window = (date(2026, 11, 6), date(2026, 11, 10))
    load_batches(db, batch(range(6, 11), 12), field_of, window=window, **common)
    assert reads.totals(db, Where.of({"gpu": ["A100"]}), *NOV, "GPUHours") == {
        "": 5 * 24 * 8 + 5 * 12 * 8
    }
    days = dict((d, t) for d, _, t in reads.series(db, Where(), *NOV, "GPUHours"))
    assert days["2026-11-05"] == 24 * 8 and days["2026-11-06"] == 12 * 8
    left = db.execute(
        "SELECT COUNT(*) FROM charge_gpu g LEFT JOIN charges c ON c.id = g.id WHERE c.id IS NULL"
    ).fetchone()[0]
    assert left == 0
