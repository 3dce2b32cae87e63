"""Anomalies in a daily metric series: spikes, drops and drops to zero, by a robust z-score.

A pure function over a pandas Series; it reads no warehouse and knows no metric. Thresholds come from
the caller (the metric catalogue's `AnomalyRule`s, through `shoplens.quality.signals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

#: 1 / Φ⁻¹(3/4): makes the median absolute deviation estimate the standard deviation of normal data
MAD_SCALE = 1.4826
#: √(π/2): the same for the mean absolute deviation, used when the MAD is 0 (half the history or more
#: sits exactly on the median: a flat series, or a sparse one that is mostly zero)
MEAN_AD_SCALE = 1.2533
#: Iglewicz and Hoaglin's cut-off for the modified z-score
DEFAULT_THRESHOLD = 3.5
DEFAULT_WINDOW = 28
DEFAULT_MIN_HISTORY = 7
#: the scale never falls below this fraction of the median...
DEFAULT_FLOOR = 0.05
#: ...nor below this many units (one order, one unit of currency)
DEFAULT_MIN_SCALE = 1.0
#: a zero is an alarm when at least this share of the trailing window was non-zero
ZERO_NORMAL_SHARE = 0.9
KINDS = ("spike", "drop", "zero")


@dataclass(frozen=True)
class Anomaly:
    """One flagged day. `deviation` is in robust z units: (value - expected) / scale."""

    day: date
    value: float
    expected: float
    deviation: float
    kind: str
    scale: float
    history: int

    @property
    def change(self) -> float | None:
        """The relative size: (value - expected) / expected; None when expected is zero."""
        return None if self.expected == 0 else (self.value - self.expected) / self.expected


def detect_anomalies(series: pd.Series, *, window: int = DEFAULT_WINDOW, min_history: int = DEFAULT_MIN_HISTORY,
                     threshold: float = DEFAULT_THRESHOLD, zero_alarm: bool = True, floor: float = DEFAULT_FLOOR,
                     min_scale: float = DEFAULT_MIN_SCALE, since: date | None = None) -> list[Anomaly]:
    """The days of a daily `series` (index: days; values: numbers, NaN where unknown) that fall far
    outside their recent range, oldest first; with `since`, only days from it on are judged (the days
    before are still their history).

    For each day d with a value:
    - history: the values on the `window` calendar days before d, [d - window, d - 1]; d itself is never
      part of its own history; days missing from the index or NaN are skipped, not read as zero. With
      fewer than `min_history` values, d is not judged.
    - expected = median(history); MAD = median(|history - expected|); spread = 1.4826 × MAD, or when
      MAD is 0, 1.2533 × mean(|history - expected|); scale = max(spread, floor × |expected|, min_scale).
      The mean fallback keeps a sparse, mostly-zero history from making every non-zero day a spike; the
      floors keep a flat history from turning a tiny change into a huge deviation.
    - deviation = (value - expected) / scale, the robust (modified) z-score.
    - kind "zero" when `zero_alarm` is on, the value is 0 and at least 90% of the history was non-zero
      (the metric normally is non-zero), whatever the deviation; else "spike" when deviation >=
      threshold, "drop" when deviation <= -threshold; else the day is not flagged. A history whose median
      is 0 (the metric is zero on most days: refunds in a small shop, LIVE on some days) has no usual
      level to depart from, so such a day is never a spike or a drop.
    A flagged day stays in the history of the days after it: median and MAD barely move for one outlier.
    """
    if window < 1 or not 1 <= min_history <= window:
        raise ValueError(f"window {window} and min_history {min_history}: need 1 <= min_history <= window")
    if threshold <= 0 or floor < 0 or min_scale <= 0:
        raise ValueError(f"threshold {threshold}, floor {floor}, min_scale {min_scale}: threshold and min_scale "
                         "must be positive, floor at least 0")
    values = _daily(series)
    ordinals = np.fromiter((d.toordinal() for d in values.index), dtype=np.int64, count=len(values))
    numbers = values.to_numpy(dtype=float)
    flagged = []
    first = 0 if since is None else int(np.searchsorted(ordinals, since.toordinal()))
    for i, (day, value) in enumerate(zip(values.index[first:], numbers[first:]), start=first):
        if math.isnan(value):
            continue
        history = numbers[np.searchsorted(ordinals, ordinals[i] - window):i]  # the index is sorted, unique
        history = history[~np.isnan(history)]
        if len(history) < min_history:
            continue
        expected = float(np.median(history))
        distance = np.abs(history - expected)
        mad = float(np.median(distance))
        spread = MAD_SCALE * mad if mad > 0 else MEAN_AD_SCALE * float(distance.mean())
        scale = max(spread, floor * abs(expected), min_scale)
        deviation = (value - expected) / scale
        if zero_alarm and value == 0 and (history != 0).mean() >= ZERO_NORMAL_SHARE:
            kind = "zero"
        elif expected == 0:
            continue
        elif deviation >= threshold:
            kind = "spike"
        elif deviation <= -threshold:
            kind = "drop"
        else:
            continue
        flagged.append(Anomaly(day, float(value), expected, float(deviation), kind, scale, len(history)))
    return flagged


def _daily(series: pd.Series) -> pd.Series:
    """The series as floats indexed by `datetime.date`, sorted; a repeated day is an error."""
    days = [_as_date(d) for d in series.index]
    values = pd.Series([_as_float(v) for v in series.to_numpy()], index=pd.Index(days, dtype=object), dtype=float)
    if values.index.has_duplicates:
        repeated = sorted({d for d in days if days.count(d) > 1})
        raise ValueError(f"the series repeats day(s) {', '.join(map(str, repeated))}: give one value per day")
    return values.sort_index()


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise ValueError(f"the series index holds {value!r}: index it by day (dates, timestamps or ISO strings)")


def _as_float(value) -> float:
    if value is None or value is pd.NA or value is pd.NaT:
        return math.nan
    return float(value)
