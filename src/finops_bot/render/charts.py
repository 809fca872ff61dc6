"""Series answers as pictures: a sparkline (text, Block Kit), a PNG chart (Slack uploads,
``ask --json`` files) and its alt text. Pure: they read the answer's fields (granularity,
unit, rows), never its kind, and return str or bytes.

matplotlib is imported inside ``chart_png`` (nothing happens at import), on the Agg canvas
of a ``matplotlib.figure.Figure`` (no pyplot, no global figure state). The PNG is always
CHART_SIZE pixels and carries no timestamp or version, so one answer gives the same bytes.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterable
from datetime import date

from finops_bot.money import SYMBOLS, format_money
from finops_bot.questions.answer import Answer

BARS = "▁▂▃▄▅▆▇█"
CHART_SIZE = (960, 432)  # pixels: width, height
_DPI = 120
_BAR_LIMIT = 16  # week and month series up to this many buckets are bars; else lines
_COLORS = ("#2f6f9f", "#d0743c", "#4f9a5b", "#8a5fa8", "#b5485d", "#6b7a8f")
_GRID = "#e3e6ea"
_TEXT = "#2b2f33"
# matplotlib shares font caches between figures: one chart at a time is drawn
_DRAWING = threading.Lock()


def sparkline(values: Iterable[float | None]) -> str:
    """▁▂▃▄▅▆▇█ scaled from the smallest to the largest value (negative ones too). A flat
    series is all ▄ (all ▁ when it is all zero); a missing or non-finite value is a space."""
    items = [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]
    known = [v for v in items if v is not None]
    if not known:
        return " " * len(items)
    low, high = min(known), max(known)
    if high == low:
        flat = BARS[0] if high == 0 else BARS[3]
        return "".join(flat if v is not None else " " for v in items)
    top = len(BARS) - 1
    return "".join(
        BARS[round((v - low) / (high - low) * top)] if v is not None else " " for v in items
    )


def is_series(answer: Answer) -> bool:
    """A time series with something to draw: one row per bucket (``granularity`` set)."""
    return bool(answer.granularity) and bool(answer.rows)


def has_chart(answer: Answer) -> bool:
    """A series, or a forecast (billed to date, the rest with its band, the budget)."""
    from finops_bot.render.forecast_chart import drawable

    return is_series(answer) or bool(drawable(answer))


def hours(answer: Answer) -> bool:
    return answer.unit == "gpu_hours"


def series(answer: Answer) -> dict[str, list[tuple[str, float]]]:
    """Currency ("" for GPU-hours) → [(bucket start, value)] over every bucket of the answer,
    in date order; a bucket a currency has no row for is 0 (never added across currencies)."""
    keys = sorted({r.key for r in answer.rows})
    out: dict[str, dict[str, float]] = {}
    for r in answer.rows:
        value = (r.quantity or 0.0) if hours(answer) else r.cost
        line = out.setdefault("" if hours(answer) else r.currency, {})
        line[r.key] = line.get(r.key, 0.0) + value
    return {c: [(k, line.get(k, 0.0)) for k in keys] for c, line in out.items()}


def format_value(value: float, currency: str, unit: str | None) -> str:
    if unit == "gpu_hours":
        return f"{value:,.1f} GPU-h"
    return format_money(value, currency)


def spark_lines(answer: Answer) -> list[str]:
    """One line per currency: the sparkline, then min, max and last."""
    lines = []
    for currency, points in series(answer).items():
        values = [v for _, v in points]
        label = f"{currency} " if currency and len(answer.totals) > 1 else ""

        def show(v: float, cur: str = currency) -> str:
            return format_value(v, cur, answer.unit)

        lines.append(
            f"{label}{sparkline(values)}  min {show(min(values))} · max {show(max(values))}"
            f" · last {show(values[-1])}"
        )
    return lines


def full_title(answer: Answer) -> str:
    """The title with its period, named once: 'Daily spend · all spend · last 7 days
    (15–21 Nov 2026)', or 'Daily spend · … · last 7 days (15–21 Nov 2026)' for a title that
    already ends with its period's label."""
    from finops_bot.questions.periods import span

    title = answer.title
    if not answer.period:
        return title
    label = answer.period.label
    if label and title.endswith(label):
        return f"{title} ({span(answer.period.start, answer.period.end)})"
    return f"{title} · {answer.period.describe()}"


def _noun(answer: Answer) -> str:
    return {"day": "days", "week": "weeks", "month": "months"}.get(answer.granularity or "", "")


def chart_alt(answer: Answer) -> str:
    """Alt text: what is drawn, over which period, and min / max / last per currency."""
    if not is_series(answer) and has_chart(answer):
        from finops_bot.render.forecast_chart import forecast_alt

        return forecast_alt(answer)
    kind = "Bar chart" if _bars(answer) else "Line chart"
    parts = []
    for currency, points in series(answer).items():
        low = min(points, key=lambda p: p[1])
        high = max(points, key=lambda p: p[1])
        last = points[-1]

        def show(p: tuple[str, float], cur: str = currency) -> str:
            return f"{format_value(p[1], cur, answer.unit)} ({p[0]})"

        head = f"{currency}: " if currency else ""
        parts.append(f"{head}min {show(low)}, max {show(high)}, last {show(last)}")
    count = len({r.key for r in answer.rows})
    text = f"{kind} of {full_title(answer) or 'a series'}; {count} {_noun(answer) or 'points'}. "
    text += "; ".join(parts)
    return text if len(text) <= 1000 else text[:999] + "…"


def _bars(answer: Answer) -> bool:
    buckets = len({r.key for r in answer.rows})
    return answer.granularity in ("week", "month") and buckets <= _BAR_LIMIT


def y_label(answer: Answer, currency: str) -> str:
    if hours(answer):
        return "GPU-hours"
    measure = f"{answer.measure} " if answer.measure else ""
    return f"{measure}({currency})"


def _compact(value: float, currency: str, unit: str | None) -> str:
    """Axis ticks: $1.2k, 3.4M EUR, 120 GPU-h."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            text = f"{size / limit:.3g}{suffix}"
            break
    else:
        text = f"{size:.3g}" if size < 100 else f"{size:,.0f}"
    if unit == "gpu_hours":
        return f"{sign}{text}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}".strip()


def chart_png(answer: Answer) -> bytes:
    """The series as a PNG of CHART_SIZE pixels: one panel per currency (never one axis
    for two currencies), a line (or bars, for a few weeks or months) over the bucket dates."""
    if not is_series(answer) and has_chart(answer):
        from finops_bot.render.forecast_chart import forecast_png

        return forecast_png(answer)
    if not is_series(answer):
        raise ValueError("chart_png needs a series or forecast answer")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lines = series(answer)
    with _DRAWING:
        fig = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
        FigureCanvasAgg(fig)  # the Agg canvas, explicitly: no GUI backend, no pyplot
        fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.12, hspace=0.12)
        axes = fig.subplots(len(lines), 1, sharex=True, squeeze=False)[:, 0]
        for i, (ax, (currency, points)) in enumerate(zip(axes, lines.items(), strict=True)):
            _draw(ax, answer, currency, points, _COLORS[i % len(_COLORS)])
        axes[0].set_title(_title(answer), loc="left", fontsize=11, color=_TEXT, pad=8)
        _date_axis(axes[-1], answer)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=_DPI, metadata={"Software": None})
    return out.getvalue()


def _title(answer: Answer) -> str:
    title = full_title(answer) or "Series"
    return title if len(title) <= 110 else title[:109] + "…"


def _draw(ax, answer: Answer, currency: str, points, color: str) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    days = [date.fromisoformat(k) for k, _ in points]
    values = [v for _, v in points]
    if _bars(answer):
        ax.bar(_centres(answer, days), values, width=_width(answer), color=color, zorder=2)
    else:
        marker = "o" if len(days) <= 31 else None
        ax.plot(days, values, color=color, linewidth=1.8, marker=marker, markersize=3, zorder=2)
        ax.fill_between(days, values, 0, color=color, alpha=0.08, zorder=1)
    if min(values) < 0:
        ax.axhline(0, color="#7a7f85", linewidth=0.8, zorder=1)
    ax.set_ylabel(y_label(answer, currency), fontsize=9, color=_TEXT)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _compact(v, currency, answer.unit)))
    ax.grid(axis="y", color=_GRID, linewidth=0.8, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#b9bec4")
    ax.tick_params(labelsize=8, colors=_TEXT)


def _width(answer: Answer) -> float:
    return 5.0 if answer.granularity == "week" else 24.0  # days


def _centres(answer: Answer, days: list[date]) -> list:
    from datetime import timedelta

    half = timedelta(days=3.5 if answer.granularity == "week" else 15)
    return [d + half for d in days]


def _date_axis(ax, answer: Answer) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if _bars(answer):  # a tick under each bar, named by its bucket's start
        days = sorted({date.fromisoformat(r.key) for r in answer.rows})
        month = answer.granularity == "month"
        labels = [f"{d:%b %Y}" if month else f"{d.day} {d:%b}" for d in days]
        ax.set_xticks(_centres(answer, days), labels)
        return
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def chart_filename(answer: Answer) -> str:
    """A file name for the chart: its title and period, e.g.
    ``daily-spend-project-bert-training-last-7-days-2026-11-15-2026-11-21.png``."""
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", (answer.title or answer.question or "chart").lower())
    slug = slug.strip("-")[:60].strip("-") or "chart"
    period = f"-{answer.period.start}-{answer.period.end}" if answer.period else ""
    return f"{slug}{period}.png"
