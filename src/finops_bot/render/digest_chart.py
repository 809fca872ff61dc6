"""The daily digest's chart: the last 30 days stacked by the scope's top projects (one
currency: the largest), anomaly days marked, with alt text; the same bytes for the same
digest (matplotlib on Agg, no timestamp)."""

from __future__ import annotations

import io
from datetime import date, timedelta

from finops_bot.digest.daily import CHART_DAYS, DailyDigest
from finops_bot.render.charts import _COLORS, _DPI, _DRAWING, _GRID, _TEXT, CHART_SIZE, _compact


def chart_filename(digest: DailyDigest) -> str:
    return f"digest-{digest.name}-{digest.as_of}.png"


def chart_alt(digest: DailyDigest) -> str:
    if not digest.chart:
        return "No spend to chart."
    totals = {p: sum(v for _, v in points) for p, points in digest.chart.items()}
    top = ", ".join(f"{p} {_compact(t, digest.chart_currency or '', None)}" for p, t in
                    sorted(totals.items(), key=lambda kv: -kv[1]))  # fmt: skip
    marks = (
        f"; anomalies on {', '.join(sorted(set(digest.anomaly_days)))}"
        if (digest.anomaly_days)
        else ""
    )
    return f"Daily {digest.measure} for the last {CHART_DAYS} days by project: {top}{marks}."[:1000]


def chart_png(digest: DailyDigest) -> bytes | None:
    """Stacked daily bars per project; None when there is nothing to draw."""
    if not digest.chart:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    last = max(date.fromisoformat(d) for points in digest.chart.values() for d, _ in points)
    days = [last - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
    currency = digest.chart_currency or ""
    with _DRAWING:
        fig = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.14)
        ax = fig.add_subplot(1, 1, 1)
        bottom = [0.0] * len(days)
        for i, (project, points) in enumerate(digest.chart.items()):
            by_day = dict(points)
            values = [by_day.get(d.isoformat(), 0.0) for d in days]
            ax.bar(days, values, bottom=bottom, width=0.8, label=project,
                   color=_COLORS[i % len(_COLORS)], zorder=2)  # fmt: skip
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for marked in sorted(set(digest.anomaly_days)):
            day = date.fromisoformat(marked)
            if days[0] <= day <= days[-1]:
                ax.axvline(day, color="#b5485d", linestyle="--", linewidth=1.2, zorder=3)
        ax.set_title(f"Daily {digest.measure}, last {CHART_DAYS} days, by project",
                     loc="left", fontsize=11, color=_TEXT)  # fmt: skip
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, currency, None)))
        ax.grid(axis="y", color=_GRID, zorder=0)
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=8, colors=_TEXT)
        fig.autofmt_xdate()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=_DPI, metadata={"Software": None})
    return out.getvalue()
