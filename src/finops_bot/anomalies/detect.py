"""Episodes in one daily usage series: spikes, level shifts and drifts, found day by day as
if the data ended on each day (so a full pass is the replay a backtest needs, and a pass
over restated data is a re-evaluation).

The baseline is a robust level times a weekly profile: the median of the deseasonalised
values over the last ``WINDOW`` clean days of the current regime, and per weekday the
median ratio of a day to its trailing week (so a level change does not distort the
profile). Noise is the MAD of the deseasonalised values. A day is *out* when its excess
over the expected value clears all of: the absolute impact, the relative impact, and
``NOISE_K`` noise units (so heavy tails do not alert). Sparse series (many zero days) must
also beat the window's largest value.

One alert per episode, on its first out day. A spike resolves after ``BACK_DAYS`` days back
within thresholds; an episode still out after ``SHIFT_DAYS`` days is a level shift (abrupt)
or a drift (gradual): its days become the new regime, and it resolves once the new level
has held flat for ``REFORM_DAYS`` days, so neither is ever alerted again. A slow ramp that
never clears a day's thresholds is caught by the drift check: the fitted trend of the last
``TREND_DAYS`` days against the level before it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

WINDOW = 28  # clean days in the baseline
PROFILE_DAYS = 56  # days the weekly profile is learnt from
NOISE_K = 5.5  # noise units a day's excess must clear (heavy tails)
BACK_DAYS = 2  # a spike resolves after this many days back within thresholds
SHIFT_DAYS = 4  # still out after this many days: a level shift or a drift
REFORM_DAYS = 7  # a new regime needs this many days to be a baseline
TREND_DAYS = 14  # the drift check's window
TREND_T = 4.0  # the drift check's t-statistic
SPARSE_ZEROS = 0.25  # a series with more zero days than this is sparse
MIN_FACTOR = 0.2  # the lowest weekday factor (a workload stopped at weekends)


@dataclass(frozen=True)
class Thresholds:
    min_daily_impact: float = 50.0  # in the series' own currency
    min_relative: float = 0.20
    min_history_days: int = 21


@dataclass
class Episode:
    start: int  # day index of the first out day
    detected_on: int  # the day the alert was raised (the data ended there)
    level: float  # the deseasonalised baseline level it is measured against
    kind: str = "spike"  # spike, level_shift, drift
    last_day: int = 0  # the last day it covers (through the data's end while open)
    expected: float = 0.0  # sums over its days through last_day
    actual: float = 0.0
    status: str = "open"  # open, resolved, expected (feedback)
    days: list[int] = field(default_factory=list)
    alerted: tuple[float, float] = (0.0, 0.0)  # (expected, actual) through detected_on

    @property
    def impact(self) -> float:
        return self.actual - self.expected

    def add(self, day: int, expected: float, actual: float) -> None:
        self.days.append(day)
        self.last_day = day
        self.expected += expected
        self.actual += float(actual)


@dataclass
class _State:
    regime: int = 0  # the first day of the current baseline regime
    born: int = 0  # the series' first day with a charge (a new series needs history)
    episode: Episode | None = None
    back: int = 0  # consecutive days back within thresholds
    excluded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    changes: int = 0  # how often ``excluded`` changed (the profile is learnt again then)
    profile: tuple[int, int, np.ndarray] | None = None  # (week, changes, factors)

    def exclude(self, days, on: bool = True) -> None:
        self.excluded[days] = on
        self.changes += 1


def detect(
    values: np.ndarray,
    limits: Thresholds = Thresholds(),
    feedback: Callable[[int], bool] | None = None,
) -> list[Episode]:
    """Every episode of a daily series (index 0 = its first day; missing days are 0).
    ``feedback(start)``: an episode starting that day was marked expected (its new level
    is the baseline at once)."""
    v = np.asarray(values, dtype=float)
    ratios = _week_ratios(v)
    charged = np.flatnonzero(v)
    born = int(charged[0]) if len(charged) else len(v)
    state, found = _State(regime=born, born=born, excluded=np.zeros(len(v), dtype=bool)), []
    for t in range(len(v)):
        factors = _profile(ratios, t, state)
        if state.episode is not None:
            _extend(v, t, factors[t % 7], state, limits, feedback)
            continue
        base = _baseline(v, t, factors, state, limits)
        if base is None:
            continue
        level, noise, ceiling = base
        f = factors[t % 7]
        if _out(v[t], level * f, noise * f, ceiling, limits):
            episode = Episode(t, t, level)
            episode.add(t, level * f, v[t])
            episode.alerted = (episode.expected, episode.actual)
            state.episode, state.back = episode, 0
            state.exclude(t)
            found.append(episode)
        elif v[t] < level * f * (1 + limits.min_relative / 2):
            continue  # today is not up: no ramp can end here (the drift check is costly)
        elif (drift := _drift(v, t, factors, state, limits)) is not None:
            state.episode, state.regime = drift, drift.start
            found.append(drift)
    return found


def _extend(v, t: int, factor: float, state: _State, limits: Thresholds, feedback) -> None:
    """One more day of an open episode: update it, resolve it, or make it a new regime."""
    e = state.episode
    if feedback is not None and feedback(e.start):
        e.status, state.regime, state.episode = "expected", e.start, None
        state.exclude(e.days, False)
        return
    expected = e.level * factor
    excess = v[t] - expected
    is_out = excess >= max(limits.min_daily_impact, limits.min_relative * expected)
    if e.kind == "spike":
        if not is_out:
            state.back += 1
            if state.back >= BACK_DAYS:  # back within thresholds: over
                e.status, state.episode = "resolved", None
            return
        state.back = 0
        e.add(t, expected, v[t])
        state.exclude(t)
        if len(e.days) >= SHIFT_DAYS:  # still out: a new level (or a ramp) to learn
            e.kind = _persistent_kind(v, e)
            state.regime = e.start
            state.exclude(e.days, False)
        return
    e.add(t, expected, v[t])
    if t - e.start + 1 >= REFORM_DAYS and _flat(v, t, limits):
        e.status, state.episode = "resolved", None
        state.regime = max(e.start, t - REFORM_DAYS + 1)


def _persistent_kind(v, e: Episode) -> str:
    """Abrupt (the first day already carries most of the excess): a level shift; else a
    drift."""
    first = v[e.start] - e.expected / len(e.days)
    latest = float(_median(v[e.days[-3:]])) - e.expected / len(e.days)
    return "level_shift" if latest <= 0 or first >= 0.5 * latest else "drift"


def _flat(v, t: int, limits: Thresholds) -> bool:
    recent, before = _median(v[t - 2 : t + 1]), _median(v[t - 6 : t - 2])
    return abs(recent - before) < max(limits.min_relative / 2 * before, limits.min_daily_impact)


def _week_ratios(v: np.ndarray) -> np.ndarray:
    """Each day's value over its trailing week's mean (NaN before a full week)."""
    out = np.full(len(v), np.nan)
    if len(v) >= 7:
        means = np.convolve(v, np.ones(7), "valid") / 7  # means[i] = mean of v[i..i+6]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[6:] = np.where(means > 0, v[6:] / means, np.nan)
    return out


def _profile(ratios: np.ndarray, t: int, state: _State) -> np.ndarray:
    """Per weekday (day index mod 7) the median ratio over the last PROFILE_DAYS clean
    days, normalised to a mean of 1; flat for a weekday with fewer than 3. Learnt again
    once a week, or when the days it may use change."""
    key = (t // 7, state.changes)
    if state.profile is not None and state.profile[:2] == key:
        return state.profile[2]
    lo = max(0, t - PROFILE_DAYS)
    days = np.arange(lo, t)
    keep = ~state.excluded[lo:t] & ~np.isnan(ratios[lo:t])
    factors = np.ones(7)
    for w in range(7):
        picked = ratios[lo:t][keep & (days % 7 == w)]
        if len(picked) >= 3:
            factors[w] = float(_median(picked))
    mean = factors.sum() / 7
    factors = factors / mean if mean > 0 else np.ones(7)
    factors = np.clip(factors, MIN_FACTOR, None)  # a day off is low, never zero (no ÷ 0)
    state.profile = (*key, factors)
    return factors


def _baseline(v, t: int, factors, state: _State, limits: Thresholds):
    """(deseasonalised level, noise, sparse ceiling or None), or None when the history is
    too short (a new series: min_history_days; a new regime: REFORM_DAYS)."""
    lo = max(state.regime, t - 3 * WINDOW)
    if state.changes == 0:  # nothing excluded yet: the last WINDOW days
        idx = np.arange(max(lo, t - WINDOW), t)
    else:
        idx = np.flatnonzero(~state.excluded[lo:t])[-WINDOW:] + lo
    needed = limits.min_history_days if state.regime <= state.born else REFORM_DAYS
    if len(idx) < needed:
        return None
    u = v[idx] / factors[idx % 7]
    level = _median(u)
    noise = 1.4826 * _median(np.abs(u - level))
    noise *= (WINDOW / len(idx)) ** 0.5  # a young regime's spread is not yet known well
    window = v[idx]
    sparse = np.count_nonzero(window) < (1 - SPARSE_ZEROS) * len(window)
    return level, noise, float(window.max()) if sparse else None


def _out(value: float, expected: float, noise: float, ceiling, limits: Thresholds) -> bool:
    excess = value - expected
    if excess < limits.min_daily_impact or excess < limits.min_relative * expected:
        return False
    if excess < NOISE_K * noise:
        return False
    return ceiling is None or value > ceiling * (1 + limits.min_relative)


def _drift(v, t: int, factors, state: _State, limits: Thresholds) -> Episode | None:
    """A ramp: the last TREND_DAYS days rise steadily (t-statistic of the fitted slope)
    and the fitted level today clears the thresholds over the level before them."""
    lo = t - TREND_DAYS + 1
    if lo - limits.min_history_days < state.regime:
        return None
    days = np.arange(lo, t + 1)
    u = v[days] / factors[days % 7]
    prior = np.arange(max(state.regime, lo - WINDOW), lo)
    before = float(_median(v[prior] / factors[prior % 7]))
    if not before > 0:  # nothing before (or not a number): no ramp to measure against
        return None
    x = days - (days.sum() / len(days))
    slope = float((x * (u - (u.sum() / len(u)))).sum() / (x * x).sum())
    fitted = (u.sum() / len(u)) + slope * x
    spread = float(np.sqrt(((u - fitted) ** 2).sum() / (len(u) - 2) / (x * x).sum()))
    excess = (fitted[-1] - before) * factors[t % 7]
    if slope < TREND_T * max(spread, 1e-12) or excess < limits.min_daily_impact:
        return None
    if excess < limits.min_relative * before * factors[t % 7]:
        return None
    onset = int(next((d for d, f in zip(days, fitted, strict=True) if f > before), lo))
    e = Episode(onset, t, before, "drift")
    for d in range(onset, t + 1):
        e.add(d, before * factors[d % 7], v[d])
    e.alerted = (e.expected, e.actual)
    return e


def _median(a) -> float:
    """np.median without its overhead (these arrays hold a few dozen values)."""
    ordered = np.sort(a)
    n = len(ordered)
    if n == 0:
        return float("nan")
    mid = n // 2
    return float(ordered[mid]) if n % 2 else float((ordered[mid - 1] + ordered[mid]) / 2)
