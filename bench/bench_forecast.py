"""Backtest finops_bot.forecast.model.forecast (month-end totals) on the labelled series of
bench/forecast_gen.py against the month-to-date pace (``mtd_pace``), over several seeds,
then on the demo organisation's cache.

    python bench/bench_forecast.py [--seeds 0-4] [--series 60] [--no-demo]

Rows: every series × every whole month after the first two (warm-up; 12 months of the
generator's 14) × evaluation day D in 7, 14, 21 of the month. On D (``as_of``, the
forecast uses days before D) usage is known through D - 2: a billing lag of 1 day beyond
the usual "through yesterday", so the day D - 1 is forecast too. One-offs: the month's
purchases on known days (the 1st), passed as ``one_offs``. ``shift_from``: a labelled
level shift's start, passed as an anomaly detector would, once it knows it and while its
episode is open: from the day the known data reaches start + 3 (its 4th day) until it
reaches start + 14 (the detector resolves a shift once the new level has held for a week;
after that the model must find the change itself). The truth is the month's whole total:
usage + purchases.

Scoring, per D, over all rows (series × months, all seeds for the aggregate):
  * MAPE = mean over rows of |forecast - truth| / |truth| (months whose truth is under $1
    are skipped and counted in ``skipped``; the generator has none); the same rows for the
    model (``total``) and the baseline (``mtd_pace(known usage in the month, one-offs,
    days in the month)``); a TooLittle counts as a miss (APE 1) and is counted;
  * improvement = 1 - MAPE_model / MAPE_mtd (the target: ≥ 0.30 on days 7 and 14);
  * coverage = share of rows whose truth lies in [low, high] (target 0.75-0.85);
  * width = mean (high - low) / |truth|; p90_ape = the 90th percentile APE of the model.
Group rows (aggregate, model vs mtd): ``shift_month`` (a labelled shift starts in the
month: mostly unforeseeable on D, since shifts start on the 8th-22nd), and of the other
months ``weekly`` (the strong-profile third) and ``other``. ``no_hint`` repeats the
aggregate with ``shift_from`` never passed. Speed: calls per second of ``forecast`` (the
calls only, the data already in memory; the whole known history is passed, up to 14
months).

Demo: the demo organisation (finops_bot.demo, 150 days ending the day before 2026-11-22)
built into a SQLite cache; every subject of the dimensions project, team, account,
service, provider, region and the total, read with
``store.reads.series(db, Where.of({dim: [key]}), …, "EffectiveCost", ("Usage",))`` and its
purchases with ("Purchase",) as one-offs (credits are left out of both). It has only four
whole months (July-October 2026; data from June 25), so July's day 7 has too little
history (TooLittle, counted and left out of the MAPE there) and there are no warm-up
months; ``shift_from`` comes from finops_bot.anomalies.detect run on the subject's
series (a level_shift episode's start, with the same start + 3 .. start + 14 rule). Its
lines: all subjects, the projects, and ``no_shift_month`` (the months in which no level
shift starts: its two planted changes, the forgotten box on Sep 23 and vision-research's
shift on Oct 8, are unforeseeable before they start and dominate the error). The 39
subjects are a few series summed different ways (a project is also its team, an account,
a region), so the demo's rows are far from independent. The demo also times the
service's budget: read + forecast of every subject for November's month end.

Prints one JSON line per seed and day, one aggregate line per day, the group, no-hint,
speed and targets lines, then the demo's lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_gen import Dataset, generate  # noqa: E402

from finops_bot.forecast.model import Forecast, forecast, mtd_pace  # noqa: E402

DAYS = (7, 14, 21)
LAG = 1  # billing lag beyond "through yesterday": on D usage is known through D - 2
WARMUP_MONTHS = 2
SHIFT_KNOWN = 3  # a detector knows a level shift from its 4th day (start + 3)
SHIFT_OPEN = 14  # ... and keeps it open until the known data is this far past its start
MIN_TRUTH = 1.0  # months whose true total is under $1 are not scored


@dataclass
class Row:
    day: int  # 7, 14, 21
    group: str
    shifted: bool  # a (labelled or detected) level shift starts in the month
    truth: float
    model: float | None  # None: TooLittle
    low: float
    high: float
    mtd: float
    seconds: float


def month_rows(usage: np.ndarray, purchases: dict[int, float], start: date,
               months: list[tuple[date, date]], shifts: list[int], group: str,
               hint: bool = True) -> list[Row]:  # fmt: skip
    """The rows of one series (see the module docstring); ``usage[i]`` is start + i."""
    rows = []
    for first, last in months:
        ms, me = (first - start).days, (last - start).days
        truth = float(usage[ms : me + 1].sum()) + sum(
            a for d, a in purchases.items() if ms <= d <= me
        )
        shifted = any(ms <= d <= me for d in shifts)
        for day in DAYS:
            as_of = first + timedelta(days=day - 1)
            known = (as_of - start).days - LAG  # usage[:known]: through as_of - 1 - LAG
            one_offs = sum(a for d, a in purchases.items() if ms <= d < known)
            shift = None
            if hint:
                open_ = [s for s in shifts if s + SHIFT_KNOWN <= known - 1 <= s + SHIFT_OPEN]
                shift = start + timedelta(days=max(open_)) if open_ else None
            began = time.perf_counter()
            f = forecast(usage[:known], start, first, last, as_of, one_offs=one_offs,
                         shift_from=shift)  # fmt: skip
            spent = time.perf_counter() - began
            base = mtd_pace(usage[ms:known], one_offs, me - ms + 1)
            if isinstance(f, Forecast):
                rows.append(Row(day, group, shifted, truth, f.total, f.low, f.high, base, spent))
            else:
                rows.append(Row(day, group, shifted, truth, None, 0.0, 0.0, base, spent))
    return rows


def generator_rows(data: Dataset, hint: bool = True) -> list[Row]:
    months = data.months()[WARMUP_MONTHS:]
    rows = []
    for s in data.series:
        group = "weekly" if s.weekly >= 0.3 else "other"
        rows += month_rows(s.usage, s.purchases, data.start, months, s.shifts, group, hint)
    return rows


def score(rows: list[Row]) -> dict:
    skipped = sum(1 for r in rows if abs(r.truth) < MIN_TRUTH)
    rows = [r for r in rows if abs(r.truth) >= MIN_TRUTH]
    if not rows:
        return {"rows": 0, "skipped": skipped}
    truth = np.array([r.truth for r in rows])
    fitted = np.array([r.model is not None for r in rows])
    model = np.array([r.model if r.model is not None else 0.0 for r in rows])
    ape = np.where(fitted, np.abs(model - truth) / np.abs(truth), 1.0)
    ape_mtd = np.abs(np.array([r.mtd for r in rows]) - truth) / np.abs(truth)
    low, high = np.array([r.low for r in rows]), np.array([r.high for r in rows])
    inside = fitted & (low <= truth) & (truth <= high)
    out = {
        "rows": len(rows),
        "skipped": skipped,
        "too_little": int((~fitted).sum()),
        "mape_model": round(float(ape.mean()), 4),
        "mape_mtd": round(float(ape_mtd.mean()), 4),
        "improvement": round(1 - float(ape.mean()) / float(ape_mtd.mean()), 3)
        if ape_mtd.mean() > 0
        else None,
        "coverage": round(float(inside.sum() / max(fitted.sum(), 1)), 3),
        "width": round(float(((high - low) / np.abs(truth))[fitted].mean()), 4)
        if fitted.any()
        else None,
        "p90_ape": round(float(np.percentile(ape, 90)), 4),
        "p90_ape_mtd": round(float(np.percentile(ape_mtd, 90)), 4),
    }
    return out


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def run_generator(seeds: list[int], n_series: int) -> None:
    everything, no_hint = [], []
    for seed in seeds:
        data = generate(seed, n_series)
        rows = generator_rows(data)
        everything += rows
        no_hint += generator_rows(data, hint=False)
        for day in DAYS:
            print(
                json.dumps({"seed": seed, "day": day, **score([r for r in rows if r.day == day])})
            )
    summary = {}
    for day in DAYS:
        summary[day] = score([r for r in everything if r.day == day])
        print(json.dumps({"aggregate": f"seeds {seeds[0]}-{seeds[-1]}", "day": day,
                          **summary[day]}))  # fmt: skip
    groups = {
        "weekly": lambda r: r.group == "weekly" and not r.shifted,
        "other": lambda r: r.group == "other" and not r.shifted,
        "shift_month": lambda r: r.shifted,
    }
    for group, picks in groups.items():
        for day in DAYS:
            rows = [r for r in everything if r.day == day and picks(r)]
            s = score(rows)
            keep = ("rows", "mape_model", "mape_mtd", "improvement", "coverage")
            print(json.dumps({"group": group, "day": day, **{k: s.get(k) for k in keep}}))
    for day in DAYS:
        s = score([r for r in no_hint if r.day == day])
        keep = ("rows", "mape_model", "mape_mtd", "improvement", "coverage")
        print(json.dumps({"no_hint": True, "day": day, **{k: s.get(k) for k in keep}}))
    seconds = sum(r.seconds for r in everything)
    print(json.dumps({"calls": len(everything), "seconds": round(seconds, 3),
                      "calls_per_second": round(len(everything) / seconds),
                      "us_per_call": round(1e6 * seconds / len(everything), 1)}))  # fmt: skip
    targets = {
        "mape_day14_under_10pct": summary[14]["mape_model"] < 0.10,
        "improvement_day7_at_least_30pct": summary[7]["improvement"] >= 0.30,
        "improvement_day14_at_least_30pct": summary[14]["improvement"] >= 0.30,
        "coverage_75_85": all(0.75 <= summary[d]["coverage"] <= 0.85 for d in DAYS),
    }
    print(json.dumps({"targets": targets, "all_met": all(targets.values())}))


def run_demo() -> None:
    from finops_bot.anomalies.detect import detect
    from finops_bot.demo import DEMO_DAYS, load_demo
    from finops_bot.ingest.tags import TagRules
    from finops_bot.store import connect
    from finops_bot.store.reads import Where, series

    today = date(2026, 11, 22)
    first_day, last_day = today - timedelta(days=DEMO_DAYS), today - timedelta(days=1)
    with tempfile.TemporaryDirectory() as folder:
        db = connect(Path(folder) / "demo.db")
        rules = TagRules({"project": ("project",), "team": ("team",)})
        load_demo(db, today, datetime(2026, 11, 22, 6, tzinfo=UTC), rules)
        dims = ("project", "team", "account", "service", "provider", "region")
        marks = ",".join("?" * len(dims))
        subjects = [("*", "*")] + db.execute(
            f"SELECT DISTINCT dim, key FROM cube WHERE dim IN ({marks}) ORDER BY 1, 2", dims
        ).fetchall()

        def where(dim, key):
            return Where.of() if dim == "*" else Where.of({dim: [key]})

        def dense(rows, start, end):
            out = np.zeros((end - start).days + 1)
            for day, _currency, total in rows:
                out[(date.fromisoformat(day) - start).days] += total
            return out

        months = []  # the whole months in the data
        d = first_day.replace(day=1)
        if d < first_day:
            d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        while (nxt := date(d.year + d.month // 12, d.month % 12 + 1, 1)) <= last_day:
            months.append((d, nxt - timedelta(days=1)))
            d = nxt
        rows: list[Row] = []
        for dim, key in subjects:
            usage = dense(series(db, where(dim, key), first_day, last_day, "EffectiveCost",
                                 ("Usage",)), first_day, last_day)  # fmt: skip
            bought = dense(series(db, where(dim, key), first_day, last_day, "EffectiveCost",
                                  ("Purchase",)), first_day, last_day)  # fmt: skip
            purchases = {int(i): float(bought[i]) for i in np.flatnonzero(bought)}
            shifts = [e.start for e in detect(usage) if e.kind == "level_shift"]
            rows += month_rows(usage, purchases, first_day, months, shifts, dim)
        for day in DAYS:
            picked = [r for r in rows if r.day == day and r.model is not None]
            left = sum(1 for r in rows if r.day == day and r.model is None)
            print(json.dumps({"demo": "all subjects", "months": [str(a) for a, _ in months],
                              "day": day, "subjects": len(subjects),
                              "too_little_left_out": left, **score(picked)}))  # fmt: skip
        keep = ("rows", "mape_model", "mape_mtd", "improvement", "coverage")
        for name, picks in (("project", lambda r: r.group == "project"),
                            ("no_shift_month", lambda r: not r.shifted)):  # fmt: skip
            for day in DAYS:
                picked = [r for r in rows if r.day == day and r.model is not None and picks(r)]
                s = score(picked)
                print(json.dumps({"demo": name, "day": day, **{k: s.get(k) for k in keep}}))
        # the service's budget: every subject read and forecast for November's month end
        began = time.perf_counter()
        for dim, key in subjects:
            usage = dense(series(db, where(dim, key), first_day, last_day, "EffectiveCost",
                                 ("Usage",)), first_day, last_day)  # fmt: skip
            forecast(usage, first_day, date(2026, 11, 1), date(2026, 11, 30), today)
        spent = time.perf_counter() - began
        print(json.dumps({"demo": "read + forecast, November", "subjects": len(subjects),
                          "seconds": round(spent, 4),
                          "ms_per_subject": round(1000 * spent / len(subjects), 3)}))  # fmt: skip
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    parser.add_argument("--series", type=int, default=60)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    run_generator(_seeds(args.seeds), args.series)
    if not args.no_demo:
        run_demo()


if __name__ == "__main__":
    main()
