"""The forecast model (pure numpy, no store): a period-end total with an 80% interval
from one daily usage series.

The expected value of a day is a level times a weekly factor: ``level(t) × factor[t]``.

* Weekly profile: per weekday the median ratio of a day to its centred 7-day mean over the
  last ``PROFILE_WEEKS`` whole weeks (a level change moves both, so it barely distorts
  the ratio), normalised to a mean of 1; a weekday with no usable ratio is flat.
* Level and trend, on the deseasonalised values of the last ``FIT_DAYS`` days (days with a
  factor under ``MIN_FACTOR``, a workload stopped at weekends, carry no level information
  and are left out). An isolated outlier (over ``CLIP_K`` noise units from its week's
  median; the noise is the robust spread of day-to-day differences) is clipped. The
  window is cut into regimes at the caller's open level shift (``shift_from``: the rest
  continues at the level of the days since it, however few) and at every change the
  model finds itself: a step whose t-statistic, against a straight line through the
  same days, clears ``SPLIT_T`` (two levels of binary segmentation). A step in the last
  ``SPLIT_MIN`` - 1 days is set apart, not followed: from so few days a spike and a new
  level look alike (the caller's anomaly detector says which, from the 4th day, with
  ``shift_from``). One slope is fit across the regimes (each with its own intercept),
  shrunk by t²/(t² + ``SHRINK``) (t its t-statistic) so a noise slope is not extrapolated
  at full strength; the level at the data's end is the last regime's mean moved along it.
* The rest of the period (from the day after the data's end, billing lags included, to
  its last day) is the sum of level × factor (a level never crosses zero); ``actual``
  (usage on in-period days present, plus the one-offs, which are never extrapolated) is
  added as it is.
* The interval: a normal 80% interval whose variance sums the day noise over the rest
  (the residual spread of the fit, scaled by each day's factor), the error of the level
  (spread² / days in the last regime) and of the slope (spread² / Σ(x − x̄)²), both
  carried over the horizon (the three stretched by (1 + ρ) / (1 − ρ), ρ ≥ 0 the lag-1
  autocorrelation of the residuals: days that run high together), and a level wander
  (``WANDER`` of the level per √day, a random walk from the data's end) for what no fit
  of the past can know: a level shift or a drift that has not started yet. For
  non-negative usage the low end never falls below what is spent. ``path`` carries the
  same sums day by day.

Everything is closed form (a few dozen numpy operations, no loop over days; about 0.2 ms
a call). bench/bench_forecast.py measures accuracy, coverage and speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

INTERVAL = 0.8
MIN_HISTORY_DAYS = 14  # fewer usage days before the evaluation day: no forecast

FIT_DAYS = 126  # the window the level, the trend and the profile are learnt from
PROFILE_WEEKS = 11  # whole weeks of day-to-centred-week ratios in the profile
MIN_FACTOR = 0.2  # days with a lower weekly factor carry no level information
CLIP_K = 5.0  # an isolated value this many noise units from its week's median is clipped
SPLIT_T = 6.0  # a level change the model finds itself: its step's t-statistic
SPLIT_MIN = 4  # ... with at least this many days on either side
WANDER = 0.004  # the unforeseeable: relative level wander per √day ahead
SHRINK = 1.0  # the trend's shrinkage: t² / (t² + SHRINK)
Z = 1.2815515655446004  # the normal quantile of 0.9 (an 80% two-sided interval)
_WEEK = np.arange(7)


@dataclass(frozen=True)
class Forecast:
    """A period-end forecast. Money is in the series' one currency (never mixed)."""

    period_start: date
    period_end: date
    as_of: date  # evaluated "on D": uses days before D only
    actual: float  # usage + one-offs already in the period, days before as_of
    total: float  # expected period total (actual + the expected rest)
    low: float  # the 80% interval of the period total
    high: float
    method: str  # e.g. "weekly profile × robust trend (56 days)"
    interval: float = INTERVAL
    one_offs: float = 0.0  # non-usage charges already in the period (not extrapolated)
    shift_from: date | None = None  # an open level shift the rest continues at
    # (day, cumulative expected, cumulative low, cumulative high) for each day from as_of
    # to period_end: what the chart draws
    path: list[tuple[date, float, float, float]] = field(default_factory=list)
    # the first day of the level the rest continues at, when it is not the whole window's
    # (the caller's shift_from, or a level change the model found itself)
    level_since: date | None = None
    last_data_day: date | None = None  # the last usage day the forecast knew


@dataclass(frozen=True)
class TooLittle:
    """Not forecast: why (e.g. "only 9 days of usage before Dec 10; 14 are needed")."""

    reason: str
    days: int


def forecast(
    usage: np.ndarray,
    first_day: date,
    period_start: date,
    period_end: date,
    as_of: date,
    *,
    one_offs: float = 0.0,
    shift_from: date | None = None,
) -> Forecast | TooLittle:
    """``usage[i]`` is the usage cost of ``first_day + i`` (zeros are real zero days; the
    array ends on the day before ``as_of`` or earlier, when billing lags). ``one_offs``:
    the period's non-usage charges so far, added as they are. ``shift_from``: an open
    level shift's first day; the rest of the period continues at its new level (fit on
    the days since it, however few; ignored while no day since it is known). Values on or
    after ``as_of`` are ignored; a non-finite value counts as 0."""
    if period_end < period_start:
        raise ValueError(f"the period ends ({period_end}) before it starts ({period_start})")
    v = np.asarray(usage, dtype=float).ravel()
    known = max(0, min(len(v), (as_of - first_day).days))
    if known < MIN_HISTORY_DAYS:
        what = "no usage" if known == 0 else f"only {known} day{'s' * (known != 1)} of usage"
        return TooLittle(
            f"{what} before {as_of:%b} {as_of.day}; {MIN_HISTORY_DAYS} are needed", known
        )
    v = v[:known]
    if not np.isfinite(v).all():
        v = np.where(np.isfinite(v), v, 0.0)
    one_offs = float(one_offs) if np.isfinite(one_offs) else 0.0
    ps, pe = (period_start - first_day).days, (period_end - first_day).days
    lo, hi = max(ps, 0), min(known, pe + 1)
    actual = (float(v[lo:hi].sum()) if hi > lo else 0.0) + one_offs
    shift_at = (shift_from - first_day).days if shift_from is not None else None
    fit = _fit(v, shift_at)
    nonneg = bool((v >= 0).all())

    first = max(known, ps)  # the first forecast day (index)
    if pe < first:  # the period's days are all known
        return _forecast(period_start, period_end, as_of, actual, actual, actual, actual,
                         fit, first_day, one_offs, shift_from, [])  # fmt: skip
    ahead = np.arange(known, pe + 1)  # every day after the data's end, through period_end
    a = ahead - (known - 1)  # days ahead of the last known day (1, 2, …)
    f = fit.factors[ahead % 7]
    g = np.where(ahead >= ps, f, 0.0)  # in-period days only (a lag may reach before it)
    level = fit.level + fit.slope * a
    # a level never crosses zero (a declining trend ends at nothing, credits at no credit)
    level = np.maximum(level, 0.0) if nonneg or fit.level >= 0 else np.minimum(level, 0.0)
    cum = actual + np.cumsum(level * g)

    s2, c = fit.persist * fit.spread**2, fit.lever
    f0, f1 = np.cumsum(g), np.cumsum(g * a)
    var = s2 * np.cumsum(g * g) + fit.level_var * f0**2 + fit.slope_var * (f1 + c * f0) ** 2
    if fit.level != 0:  # Σ_{i<j} (C_j − C_i)²: the prefix sum of a random walk's effect
        j = np.arange(1, len(a) + 1)
        c0 = np.concatenate(([0.0], f0[:-1]))
        walk = j * f0**2 - 2 * f0 * np.cumsum(c0) + np.cumsum(c0 * c0)
        var = var + (WANDER * fit.level) ** 2 * np.maximum(walk, 0.0)
    sd = Z * np.sqrt(np.maximum(var, 0.0))
    low, high = cum - sd, cum + sd
    if nonneg:  # a total of non-negative days never falls, nor below what is spent
        low = np.maximum.accumulate(np.maximum(low, actual))
    keep = slice(first - known, None)
    days = [first_day + timedelta(days=int(t)) for t in ahead[keep]]
    path = list(zip(days, cum[keep].tolist(), low[keep].tolist(), high[keep].tolist(),
                    strict=True))  # fmt: skip
    return _forecast(period_start, period_end, as_of, actual, float(cum[-1]), float(low[-1]),
                     float(high[-1]), fit, first_day, one_offs, shift_from, path)  # fmt: skip


def mtd_pace(usage_in_period: np.ndarray, one_offs: float, days_in_period: int) -> float:
    """The baseline: month-to-date ÷ elapsed days × period length (one-offs not scaled)."""
    elapsed = len(usage_in_period)
    if elapsed == 0:
        return one_offs
    return float(usage_in_period.sum()) / elapsed * days_in_period + one_offs


@dataclass(frozen=True)
class Fit:
    """A fitted series: ``factors[t % 7]`` is day t's weekly factor; the level at the
    data's last day and its slope per day, with their variances (in level units²)."""

    factors: np.ndarray
    level: float
    slope: float
    spread: float  # the residual spread of a deseasonalised day
    level_var: float  # of the last regime's mean
    slope_var: float
    lever: float  # days from the last regime's mean day to the data's last day
    days: int  # the window's length
    since: int | None  # the first day of the last regime, when it is not the window's
    found: bool  # ... found by the model (not the caller's shift)
    known: int  # days of usage known (the window ends on the last)
    apart: int = 0  # the last days, set apart: they moved, too few to say it lasts
    persist: float = 1.0  # (1 + ρ) / (1 − ρ): how much autocorrelation stretches a sum


def _fit(v: np.ndarray, shift_at: int | None) -> Fit:
    n = len(v)
    m = min(n, FIT_DAYS)
    x0 = n - m
    factors = _profile(v[x0:], x0)
    fw = factors[np.arange(x0, n) % 7]
    ok = fw >= MIN_FACTOR
    x = np.arange(x0, n)[ok].astype(float)
    u = v[x0:][ok] / fw[ok]
    sigma = _noise(u)
    u = _clip(u, sigma)

    cuts: list[int] = []
    tail: list[int] = []  # the last few days, set apart when they moved
    forced = None
    if shift_at is not None:
        p = int(np.searchsorted(x, shift_at))
        if 0 < p < len(x):
            forced = p
    bounds = [0, len(x)] if forced is None else [0, forced, len(x)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        _segment(x, u, sigma, lo, hi, 2, cuts, tail)
    edges = sorted({*bounds, *cuts, *tail[:1]})
    starts = np.array(edges[:-1])
    ids = np.repeat(np.arange(len(starts)), np.diff(edges))
    counts = np.diff(edges).astype(float)
    xm = np.bincount(ids, x) / counts
    um = np.bincount(ids, u) / counts
    xc, uc = x - xm[ids], u - um[ids]
    sxx = float(xc @ xc)
    slope = float(xc @ uc) / sxx if sxx > 0 else 0.0
    dof = len(x) - len(starts) - (sxx > 0)
    res = uc - slope * xc
    spread = float(np.sqrt(res @ res / dof)) if dof > 0 else float(sigma)
    spread = max(spread, float(sigma)) if np.isfinite(sigma) else spread
    # days that run high together: the lag-1 autocorrelation of the residuals (within a
    # regime) stretches the variance of every sum and mean by (1 + ρ) / (1 − ρ)
    rr = float(res @ res)
    same = ids[1:] == ids[:-1]
    rho = float((res[1:] * res[:-1])[same].sum()) / rr if rr > 0 else 0.0
    persist = (1 + min(max(rho, 0.0), 0.9)) / (1 - min(max(rho, 0.0), 0.9))
    slope_var = persist * spread**2 / sxx if sxx > 0 else 0.0
    if slope_var > 0:  # a noise slope is not extrapolated at full strength
        t2 = slope**2 / slope_var
        shrink = t2 / (t2 + SHRINK)
        slope *= shrink
        slope_var *= shrink**2
    r = -2 if tail else -1  # the regime the rest continues at
    lever = (n - 1) - float(xm[r])
    level = float(um[r]) + slope * lever
    since = int(x[edges[r - 1]]) if edges[r - 1] > 0 else None
    found = since is not None and (forced is None or edges[r - 1] != forced)
    apart = len(x) - tail[0] if tail else 0
    return Fit(factors, level, slope, spread, persist * spread**2 / counts[r], slope_var,
               lever, m, since, found, n, apart, persist)  # fmt: skip


def _profile(w: np.ndarray, x0: int) -> np.ndarray:
    """Weekly factors indexed by absolute day % 7 (see the module docstring)."""
    m = len(w)
    ma = np.convolve(w, np.ones(7) / 7, "valid")  # ma[j]: the week centred on day j + 3
    k = min((m - 6) // 7, PROFILE_WEEKS)
    factors = np.ones(7)
    if k < 1:
        return factors
    mid = w[3 : m - 3][-7 * k :]
    ma = ma[-7 * k :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(ma > 0, mid / ma, np.nan).reshape(k, 7)
    start = x0 + 3 + (m - 6 - 7 * k)  # the absolute day of ratios[0, 0]
    if np.isnan(ratios).any():
        valid = ~np.isnan(ratios)
        if valid.sum() < 7:
            return factors
        med = np.full(7, 1.0)
        for c in np.flatnonzero(valid.any(axis=0)):
            med[c] = float(np.median(ratios[valid[:, c], c]))
    else:
        ordered = np.sort(ratios, axis=0)
        med = ordered[k // 2] if k % 2 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2
    med = np.maximum(med, 0.0)
    mean = float(med.sum()) / 7
    if not mean > 0:
        return factors
    return (med / mean)[(_WEEK - start) % 7]  # factors[d % 7] for absolute day d


def _noise(u: np.ndarray) -> float:
    """A robust day-to-day spread (from first differences, so steps and trends do not
    inflate it)."""
    if len(u) < 3:
        return 0.0
    d = np.abs(u[1:] - u[:-1])
    half = len(d) // 2
    s = 1.4826 * float(np.partition(d, half)[half]) / np.sqrt(2)  # the (upper) median
    if s == 0:
        s = float(d.sum()) / len(d) / np.sqrt(2)  # mostly constant: the rare moves count
    return s


def _clip(u: np.ndarray, sigma: float) -> np.ndarray:
    """Clip isolated outliers to their centred 7-day median ± CLIP_K noise units."""
    if len(u) < 7 or sigma <= 0:
        return u
    padded = np.concatenate((np.full(3, u[0]), u, np.full(3, u[-1])))
    step = padded.strides[0]
    windows = np.lib.stride_tricks.as_strided(padded, (len(u), 7), (step, step), writeable=False)
    med = np.sort(windows, axis=1)[:, 3]
    return np.clip(u, med - CLIP_K * sigma, med + CLIP_K * sigma)


def _segment(x, u, sigma: float, lo: int, hi: int, depth: int, cuts: list[int],
             tail: list[int]) -> None:  # fmt: skip
    """Binary segmentation of u[lo:hi] at significant steps (see SPLIT_T)."""
    k = hi - lo
    if depth == 0 or k < 2 * SPLIT_MIN or sigma <= 0:
        return
    xs, us = x[lo:hi], u[lo:hi]
    xc = xs - float(xs.sum()) / k
    sxx = float(xc @ xc)
    r = us - float(us.sum()) / k - (float(xc @ us) / sxx) * xc  # residuals of a straight line
    tail_r = np.cumsum(r[::-1])[::-1]  # tail_r[j] = Σ r[j:]
    tail_x = np.cumsum(xc[::-1])[::-1]
    j = np.arange(1, k)  # the first day after the step
    after = k - j
    zz = after - after**2 / k - tail_x[j] ** 2 / sxx  # the step regressor's own variance
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(tail_r[j]) / (sigma * np.sqrt(np.maximum(zz, 1e-12)))
    best = int(np.argmax(t))
    if not t[best] > SPLIT_T:
        return
    if after[best] < SPLIT_MIN:  # the last few days moved: a spike or a new level, not
        # known yet (the caller's shift_from says which): set apart, and a change looked
        # for before them
        if hi == len(u):
            tail.append(lo + int(j[best]))
        _segment(x, u, sigma, lo, lo + int(j[best]), depth, cuts, tail)
        return
    cut = lo + int(j[best])
    cuts.append(cut)
    _segment(x, u, sigma, lo, cut, depth - 1, cuts, tail)
    _segment(x, u, sigma, cut, hi, depth - 1, cuts, tail)


def _forecast(period_start, period_end, as_of, actual, total, low, high, fit: Fit,
              first_day, one_offs, shift_from, path) -> Forecast:  # fmt: skip
    method = f"weekly profile × robust trend, {fit.days} days"
    since = first_day + timedelta(days=fit.since) if fit.since is not None else None
    if since is not None:
        on = f"{since:%b} {since.day}"
        method += (
            f"; level since a change on {on} (found in the data)"
            if fit.found
            else (f"; level since the level shift on {on}")
        )
    if fit.apart:
        days = f"{fit.apart} day{'s' * (fit.apart != 1)}"
        method += f"; the move of the last {days} not followed (a spike or a new level?)"
    values = np.array([actual, total, low, high])
    if not np.isfinite(values).all():  # overflowing inputs: say what is known, no NaN
        actual = total = low = high = float(np.nan_to_num(actual))
        path = [(d, actual, actual, actual) for d, *_ in path]
    return Forecast(
        period_start=period_start,
        period_end=period_end,
        as_of=as_of,
        actual=actual,
        total=total,
        low=low,
        high=high,
        method=method,
        one_offs=one_offs,
        shift_from=shift_from,
        path=path,
        level_since=since,
        last_data_day=first_day + timedelta(days=fit.known - 1),
    )
