"""A forecast answer as a picture: the billed spend to date (cumulative), the expected rest
with its 80% band, and the budget line when one budget covers the subject. One panel per
currency; Agg canvas, no pyplot, no timestamp in the PNG (the same answer, the same bytes)."""

from __future__ import annotations

import io
from datetime import date, timedelta

from finops_bot.forecast.model import Forecast
from finops_bot.money import format_money
from finops_bot.questions.answer import Answer


def drawable(answer: Answer) -> list:
    """The forecasts worth drawing (one per currency that was forecast)."""
    return [f for f in answer.forecasts if isinstance(f.result, Forecast) and f.result.path]


def forecast_png(answer: Answer) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from finops_bot.render import charts

    shown = drawable(answer)
    if not shown:
        raise ValueError("forecast_png needs a forecast answer with a forecast")
    with charts._DRAWING:
        w, h = charts.CHART_SIZE
        fig = Figure(figsize=(w / charts._DPI, h / charts._DPI), dpi=charts._DPI)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.12, hspace=0.15)
        axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
        for ax, f in zip(axes, shown, strict=True):
            _draw(ax, answer, f)
        axes[0].set_title(charts._title(answer), loc="left", fontsize=11, color=charts._TEXT)
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(minticks=3, maxticks=8)
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=charts._DPI, metadata={"Software": None})
    return out.getvalue()


def _actual(f) -> tuple[list[date], list[float]]:
    days, total, values = [], 0.0, []
    for i, v in enumerate(f.daily):
        total += v
        days.append(f.start + timedelta(days=i))
        values.append(total)
    if f.result.one_offs and values:  # the one-offs are in the actual, on no one day
        values = [v + f.result.one_offs for v in values]
    return days, values


def _draw(ax, answer: Answer, f) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from finops_bot.render import charts

    r = f.result
    days, values = _actual(f)
    ahead = [d for d, *_ in r.path]
    mid = [m for _, m, _, _ in r.path]
    low = [lo for _, _, lo, _ in r.path]
    high = [hi for _, _, _, hi in r.path]
    if days:  # join the forecast to the last billed day
        ahead, mid, low, high = [days[-1], *ahead], [values[-1], *mid], [values[-1], *low], [
            values[-1], *high]  # fmt: skip
    ax.plot(days, values, color=charts._COLORS[0], linewidth=2.0, label="billed", zorder=3)
    ax.plot(ahead, mid, color=charts._COLORS[1], linewidth=1.6, linestyle="--",
            label="forecast", zorder=3)  # fmt: skip
    ax.fill_between(ahead, low, high, color=charts._COLORS[1], alpha=0.18,
                    label=f"{int(r.interval * 100)}% interval", zorder=2)  # fmt: skip
    if answer.budget_line is not None:
        ax.axhline(answer.budget_line, color="#b5485d", linewidth=1.2, label="budget", zorder=1)
    ax.set_ylabel(f"{answer.measure or ''} ({f.currency}), cumulative", fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _p, c=f.currency: charts._compact(v, c, "money"))
    )
    ax.set_xlim(f.start, f.end)
    ax.grid(axis="y", color=charts._GRID, linewidth=0.8, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, colors=charts._TEXT)
    ax.legend(loc="upper left", fontsize=8, frameon=False)


def forecast_alt(answer: Answer) -> str:
    parts = []
    for f in drawable(answer):
        r = f.result
        money = lambda v, c=f.currency: format_money(v, c)  # noqa: E731
        text = (
            f"{f.currency}: billed {money(r.actual)} through {f.through}, forecast "
            f"{money(r.total)} by {f.end} (80% interval {money(r.low)} – {money(r.high)})"
        )
        if answer.budget_line is not None:
            text += f", budget {money(answer.budget_line)}"
        parts.append(text)
    from finops_bot.render.charts import full_title

    text = f"Line chart of {full_title(answer)}, cumulative: " + "; ".join(parts)
    return text if len(text) <= 1000 else text[:999] + "…"
