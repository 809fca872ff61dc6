"""The one read path: totals, groupings and daily series of a subject, from the cube or
from daily_keys, with ChargeCategory filters — against SQL over the facts."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.ingest.importer import import_file, load_columns
from finops_bot.store import reads
from finops_bot.store.reads import Where
from tests.conftest import NOW, charge, write_focus

NOV = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def cache(db, rules, tmp_path):
    rows = []
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        rows.append(charge(day, 10, project="a", team="x"))
        rows.append(charge(day, 4, project="b", team="x", provider="Google Cloud"))
        rows.append(charge(day, 100, project="a", category="Purchase"))
        rows.append(charge(day, -2, project="a", category="Credit"))
    import_file(db, write_focus(tmp_path / "c.csv", rows), rules=rules, now=NOW)
    return db


def sql(db, where: str = "1", group: str | None = None):
    select = f"{group}, " if group else ""
    return db.execute(
        f"SELECT {select}SUM(EffectiveCost) FROM focus_charges WHERE ChargeDay BETWEEN "
        f"'2026-11-01' AND '2026-11-30' AND {where}" + (f" GROUP BY {group}" if group else "")
    ).fetchall()


def test_daily_series_of_a_subject_usage_only(cache):
    got = reads.series(cache, Where.of({"project": ["a"]}), *NOV, "EffectiveCost", ("Usage",))
    expected = sql(cache, "project = 'a' AND ChargeCategory = 'Usage'", "ChargeDay")
    assert [(d, t) for d, _, t in got] == expected
    purchases = reads.series(cache, Where(), *NOV, "EffectiveCost", ("Purchase",))
    assert [t for _, _, t in purchases] == [100.0, 100.0, 100.0]


def test_two_terms_read_daily_keys_and_agree_with_sql(cache):
    where = Where.of({"project": ["a"], "team": ["x"]})
    assert reads.totals(cache, where, *NOV, "EffectiveCost") == {
        "USD": sql(cache, "project = 'a' AND team = 'x'")[0][0]
    }
    by_provider = reads.grouped(cache, Where.of({"team": ["x"]}), "provider", *NOV, "EffectiveCost")
    assert sorted((p, t) for p, _, t in by_provider) == sql(cache, "team = 'x'", "ProviderName")


def test_every_series_of_a_dimension_in_one_read(cache):
    rows = reads.all_series(cache, "project", *NOV, "EffectiveCost", ("Usage",))
    totals: dict[str, float] = {}
    for key, _, _, total in rows:
        totals[key] = totals.get(key, 0.0) + total
    assert totals == dict(sql(cache, "ChargeCategory = 'Usage'", "project"))


def test_freshness_per_provider_and_source(cache):
    fresh = reads.freshness(cache)
    assert [(f.provider, f.data_through) for f in fresh] == [
        ("AWS", "2026-11-03"),
        ("Google Cloud", "2026-11-03"),
    ]


CELL = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "NaN", "1e400", "-0", "1,5", "NULL", "2026-13-45", "∞"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(st.tuples(CELL, CELL, CELL, CELL), min_size=1, max_size=8))
def test_any_optional_cell_never_drops_a_row(db, rules, cells):
    """Whatever the optional columns hold, every row with readable required fields is
    stored, and the money is exact."""
    n = len(cells)
    columns = {
        "start": pa.array(["2026-11-02T00:00:00Z"] * n),
        "billed": pa.array(["1.5"] * n),
        "effective": pa.array(["1.25"] * n),
        "currency": pa.array(["USD"] * n),
        "list": pa.array([c[0] for c in cells], pa.string()),
        "pricing_quantity": pa.array([c[1] for c in cells], pa.string()),
        "end": pa.array([c[2] for c in cells], pa.string()),
        "billing_period_start": pa.array([c[3] for c in cells], pa.string()),
    }
    result = load_columns(
        db, iter([(columns, n)]), source="fuzz", kind="demo", rules=rules, now=NOW
    )
    assert (result.rows_read, result.bad.count) == (n, 0)
    assert db.execute("SELECT SUM(billed_cost) FROM charges").fetchone()[0] == pytest.approx(
        1.5 * n
    )
