"""Score finops_bot.anomalies.detect on the labelled series of bench/anomaly_gen.py, against
a seasonal-naive baseline, over several seeds.

    python bench/bench_anomalies.py [--seeds 0-4] [--projects 50] [--days 150] [--noise 0.03]

Each project's daily usage total (ChargeCategory Usage only) goes to ``detect`` with the
default Thresholds; one Episode is one alert, raised on its ``detected_on`` day.

Scoring (the same for both methods), per project, alerts taken in day order:
  * match: an alert matches a labelled event of its project when its day lies in
    [start, start + 2] (drift: [start, start + 7]) and the event has no match yet;
  * repeat: an alert that matches nothing but lies in the effect span of an already matched
    event: spike [start, start + length + 2], level shift [start, start + 14] (twice the 7
    days its new level takes to become the baseline), drift
    [start, start + ramp + 14] (likewise once the ramp is over);
  * false: every other alert (``late`` counts those in the span of a missed event,
    ``near_drop`` those within 35 days after a labelled drop; ``noise_days`` counts the
    project-days whose noise alone, against the noise-free series, clears $50 and 20%).
precision = matched / (matched + false); precision_strict = matched / (matched + false +
repeats); recall = matched events / events; f1 uses precision (f1_strict the strict one);
delay = day - start of each match (median, p90); false_per_100pd = false alerts per 100
project-days (projects x days); recall_<kind> per event kind, plus recall_after_shift (the
spikes 10 days after a level shift), recall_not_largest (events on a service that is not
the project's largest) and recall_feasible (events whose noise-free change clears $50 and
20% on some day of their match window; many long drifts do not within 7 days).
Aggregates sum the counts over the seeds (delays pooled), then take the ratios.

Baseline: an alert on every day t >= 7 with usage[t] - usage[t-7] >= max(50, 0.20 *
usage[t-7]) (no episode logic). Root cause (detector only, an upper bound): for a matched
alert, rank the project's services by their dollar change over the episode's days through
detected_on (actual - that service's median over the 28 days before the episode's start,
per day); rc_top1 = share of matches whose first service is the event's.

Prints one JSON line per seed and method, one summary line per method, the F1 comparison,
a table, and seed 0's false alerts and missed events (detector).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly_gen import WINDOW, Dataset, Event, generate  # noqa: E402

from finops_bot.anomalies.detect import Thresholds, detect  # noqa: E402

KINDS = ("spike", "level_shift", "drift")
COUNTS = ("events", "matched", "false", "repeats", "repeats_level_shift", "late", "near_drop")
COUNTS += ("feasible", "matched_feasible", "after_shift", "matched_after_shift")
COUNTS += ("not_largest", "matched_not_largest", "rc_hits", "project_days", "noise_days")
COUNTS += tuple(f"{k}_{kind}" for kind in KINDS for k in ("events", "matched"))


@dataclass
class Alert:
    project: str
    day: int  # the day it was raised (detected_on)
    start: int
    relative: float  # (actual - expected) / expected over its days
    kind: str
    days: list[int]
    cause: str | None = None  # the cache path: the top service of its root_cause


@dataclass
class Scored:
    counts: dict[str, int]
    delays: list[int]
    false: list[Alert]
    missed: list[tuple[Event, int | None]]  # (event, the nearest alert day within 14)
    seconds: float = 0.0


def detector_alerts(data: Dataset, limits: Thresholds) -> tuple[list[Alert], float]:
    """Every episode of every project's usage; → (alerts, seconds in detect)."""
    alerts, seconds = [], 0.0
    for p, values in data.usage.items():
        began = time.perf_counter()
        episodes = detect(values, limits)
        seconds += time.perf_counter() - began
        for e in episodes:
            rel = e.impact / e.expected if e.expected > 0 else float("inf")
            alerts.append(Alert(p, e.detected_on, e.start, rel, e.kind, list(e.days)))
    return alerts, seconds


def cache_alerts(data: Dataset, folder: Path) -> tuple[list[Alert], float, float]:
    """The full path: the FOCUS file imported into a real cache by the importer, then
    ``anomalies backtest --by project`` (finops_bot.anomalies.backtest) over every day;
    → (alerts, import seconds, backtest seconds)."""
    from datetime import UTC, datetime

    from finops_bot.anomalies import backtest
    from finops_bot.anomalies.rules import AnomalyRules
    from finops_bot.ingest.importer import import_file
    from finops_bot.ingest.tags import TagRules
    from finops_bot.store import connect

    csv = data.write_focus_csv(folder / f"anomalies-{data.seed}.csv")
    path = folder / f"anomalies-{data.seed}.db"
    path.unlink(missing_ok=True)
    db = connect(path)
    began = time.perf_counter()
    tags = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
    import_file(db, csv, rules=tags, now=datetime(2026, 12, 1, tzinfo=UTC))
    imported = time.perf_counter() - began
    last = data.start + timedelta(days=data.days - 1)
    began = time.perf_counter()
    report = backtest.run(db, AnomalyRules(), data.start, last, "project", "EffectiveCost")
    spent = time.perf_counter() - began
    db.close()
    alerts = []
    for a in report["anomalies"]:
        day = (date.fromisoformat(a["detected_on"]) - data.start).days
        start = (date.fromisoformat(a["start"]) - data.start).days
        rel = a["impact"] / a["expected"] if a["expected"] > 0 else float("inf")
        cause = next((c["value"] for c in a["root_cause"] if c["dimension"] == "service"), None)
        alerts.append(Alert(a["subject"]["project"], day, start, rel, a["kind"],
                            list(range(start, day + 1)), cause))  # fmt: skip
    return alerts, imported, spent


def baseline_alerts(data: Dataset, limits: Thresholds) -> list[Alert]:
    """Seasonal naive: a day more than max($50, 20%) over the same weekday a week before."""
    alerts = []
    for p, u in data.usage.items():
        for t in range(7, len(u)):
            excess = u[t] - u[t - 7]
            if excess >= max(limits.min_daily_impact, limits.min_relative * u[t - 7]):
                rel = excess / u[t - 7] if u[t - 7] > 0 else float("inf")
                alerts.append(Alert(p, t, t, rel, "day", [t]))
    return alerts


def span_end(e: Event) -> int:
    """The last day of an event's effect span (see the module docstring)."""
    return {"spike": e.start + e.length + 2, "level_shift": e.start + 14}.get(
        e.kind, e.start + e.ramp + 14
    )


def score(data: Dataset, alerts: list[Alert]) -> Scored:
    """Match, repeat and false alerts as the module docstring says."""
    c = dict.fromkeys(COUNTS, 0)
    c["project_days"] = len(data.projects) * data.days
    for p, u in data.usage.items():  # days whose noise alone clears the thresholds
        noise = u - data.clean[p]
        c["noise_days"] += int(np.sum((noise >= 50) & (noise >= 0.2 * data.clean[p])))
    out = Scored(c, [], [], [])
    by_project: dict[str, list[Alert]] = {}
    for a in alerts:
        by_project.setdefault(a.project, []).append(a)
    drops = [n for n in data.negatives if n.kind == "drop"]
    for p in data.projects:
        events = [e for e in data.events if e.project == p]
        matched: dict[int, Alert] = {}
        for a in sorted(by_project.get(p, []), key=lambda a: a.day):
            free = [
                i
                for i, e in enumerate(events)
                if i not in matched and e.start <= a.day <= e.start + WINDOW[e.kind]
            ]
            if free:
                matched[free[0]] = a
                continue
            owner = [e for i, e in enumerate(events) if e.start <= a.day <= span_end(e)]
            if any(events.index(e) in matched for e in owner):
                c["repeats"] += 1
                hit = [e for e in owner if events.index(e) in matched][-1]
                c["repeats_level_shift"] += hit.kind == "level_shift"
                continue
            c["false"] += 1
            c["late"] += bool(owner)
            c["near_drop"] += any(
                n.project == p and n.start <= a.day <= n.start + 35 for n in drops
            )
            out.false.append(a)
        for i, e in enumerate(events):
            hit = i in matched
            c["events"] += 1
            c["matched"] += hit
            c[f"events_{e.kind}"] += 1
            c[f"matched_{e.kind}"] += hit
            for flag, name in (
                (e.feasible, "feasible"),
                (e.after_shift, "after_shift"),
                (not e.largest, "not_largest"),
            ):
                c[name] += flag
                c[f"matched_{name}"] += flag and hit
            if hit:
                out.delays.append(matched[i].day - e.start)
                cause = matched[i].cause or root_cause(data, matched[i])[0]
                c["rc_hits"] += cause == e.service
            else:
                near = [a.day for a in by_project.get(p, []) if abs(a.day - e.start) <= 14]
                out.missed.append((e, min(near, key=lambda d: abs(d - e.start), default=None)))
    return out


def root_cause(data: Dataset, alert: Alert) -> list[str]:
    """The project's services by dollar change over the alert's days through its day,
    against each one's median over the 28 days before the alert's start; largest first."""
    days = [d for d in alert.days if d <= alert.day] or [alert.day]
    lo = max(0, alert.start - 28)
    change = {}
    for service, v in data.by_service[alert.project].items():
        base = float(np.median(v[lo : alert.start])) if alert.start > lo else 0.0
        change[service] = float(v[days].sum()) - base * len(days)
    return sorted(change, key=change.get, reverse=True)


def metrics(c: dict[str, int], delays: list[int]) -> dict[str, float | int | None]:
    """The ratios of one set of counts (see the module docstring)."""

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    def f1(p: float | None, r: float | None) -> float | None:
        return round(2 * p * r / (p + r), 4) if p is not None and r and p + r > 0 else 0.0

    precision = ratio(c["matched"], c["matched"] + c["false"])
    strict = ratio(c["matched"], c["matched"] + c["false"] + c["repeats"])
    recall = ratio(c["matched"], c["events"])
    out: dict[str, float | int | None] = {
        "precision": precision,
        "precision_strict": strict,
        "recall": recall,
        "f1": f1(precision, recall),
        "f1_strict": f1(strict, recall),
        "delay_median": float(np.median(delays)) if delays else None,
        "delay_p90": float(np.percentile(delays, 90)) if delays else None,
        "false_per_100pd": ratio(100 * c["false"], c["project_days"]),
    }
    for kind in KINDS:
        out[f"recall_{kind}"] = ratio(c[f"matched_{kind}"], c[f"events_{kind}"])
    for name in ("after_shift", "not_largest", "feasible"):
        out[f"recall_{name}"] = ratio(c[f"matched_{name}"], c[name])
    out["rc_top1"] = ratio(c["rc_hits"], c["matched"])
    return out


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--noise", type=float, default=0.03, help="Student-t scale")
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="score the full path instead: import each seed's FOCUS file into a cache in DIR "
        "and run the backtest (root causes from the cache)",
    )
    args = parser.parse_args()
    limits = Thresholds()
    totals = {m: (dict.fromkeys(COUNTS, 0), []) for m in ("detector", "baseline")}
    seconds, first = [], {}
    for seed in _seeds(args.seeds):
        data = generate(seed, args.projects, args.days, noise=args.noise)
        if args.cache:
            args.cache.mkdir(parents=True, exist_ok=True)
            found, imported, spent = cache_alerts(data, args.cache)
            print(json.dumps({"seed": seed, "import_seconds": round(imported, 3),
                              "backtest_seconds": round(spent, 3)}))  # fmt: skip
        else:
            found, spent = detector_alerts(data, limits)
        seconds.append(spent)
        for method, alerts in (("detector", found), ("baseline", baseline_alerts(data, limits))):
            s = score(data, alerts)
            if method == "baseline":
                s.counts["rc_hits"] = 0
            first.setdefault(method, (s, data))
            row = {"seed": seed, "method": method, **metrics(s.counts, s.delays), **s.counts}
            if method == "detector":
                row["detect_seconds"] = round(spent, 3)
            print(json.dumps(row))
            for k, v in s.counts.items():
                totals[method][0][k] += v
            totals[method][1].extend(s.delays)
    summary = {m: metrics(c, d) for m, (c, d) in totals.items()}
    for method, (c, _) in totals.items():
        extra = {"detect_seconds_mean": round(float(np.mean(seconds)), 3)}
        print(
            json.dumps(
                {
                    "summary": method,
                    "seeds": args.seeds,
                    **summary[method],
                    **c,
                    **(extra if method == "detector" else {}),
                }
            )
        )
    f1_d, f1_b = summary["detector"]["f1"], summary["baseline"]["f1"]
    print(json.dumps({"f1_detector": f1_d, "f1_baseline": f1_b, "f1_diff": round(f1_d - f1_b, 4)}))
    _table(summary, totals, seconds, args)
    _seed_lists(*first["detector"])


def _table(summary, totals, seconds, args) -> None:
    keys = ("precision", "precision_strict", "recall", "f1", "f1_strict", "delay_median")
    keys += ("delay_p90", "false_per_100pd", "recall_spike", "recall_level_shift")
    keys += ("recall_drift", "recall_after_shift", "recall_not_largest", "recall_feasible")
    keys += ("rc_top1",)
    print(f"\n{args.projects} projects x {args.days} days, seeds {args.seeds}, noise {args.noise}")
    print(f"{'':22}{'detector':>10}{'baseline':>10}")
    for k in keys:
        d, b = summary["detector"][k], summary["baseline"][k]
        print(f"{k:22}{_fmt(d):>10}{_fmt(b):>10}")
    for k in ("events", "matched", "false", "repeats", "repeats_level_shift", "late", "noise_days"):
        print(f"{k:22}{totals['detector'][0][k]:>10}{totals['baseline'][0][k]:>10}")
    print(f"{'near_drop':22}{totals['detector'][0]['near_drop']:>10}")
    mean = float(np.mean(seconds))
    print(f"detect: {mean:.3f} s per seed ({args.projects} projects x {args.days} days)")


def _seed_lists(s: Scored, data: Dataset) -> None:
    """The first seed's false alerts (relative = the episode's impact / expected; noise =
    that day's usage / the noise-free series - 1) and missed events."""
    print(f"\nseed {data.seed} detector: {len(s.false)} false alerts (project, day, relative)")
    for a in s.false:
        noise = data.usage[a.project][a.day] / data.clean[a.project][a.day] - 1
        late = [
            f"{e.kind} from day {e.start}"
            for e in data.events
            if e.project == a.project and e.start <= a.day <= span_end(e)
        ]
        print(
            f"  false  {a.project} day {a.day:3d} {a.relative:+7.1%} {a.kind} {len(a.days)}d; "
            f"noise that day {noise:+.1%}"
            + (" (seasonal)" if data.info[a.project].seasonal else "")
            + (f"; late on the missed {late[0]}" if late else "")
        )
    print(f"seed {data.seed} detector: {len(s.missed)} missed events (kind, project, start, size)")
    for e, near in s.missed:
        print(
            f"  missed {e.kind:11} {e.project} start {e.start:3d} {e.relative:+7.1%} "
            f"${e.dollars:,.0f}/d on {e.service}"
            + (f" ramp {e.ramp}" if e.ramp else "")
            + (f" {e.length}d" if e.kind == "spike" else "")
            + ("" if e.largest else " (not largest)")
            + (" (after shift)" if e.after_shift else "")
            + ("" if e.feasible else " (infeasible in window)")
            + (f"; nearest alert day {near}" if near is not None else "; no alert within 14d")
        )


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


if __name__ == "__main__":
    main()
