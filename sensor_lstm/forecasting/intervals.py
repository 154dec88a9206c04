"""Prediction intervals by split conformal prediction: the residuals of a sensor's own method on
windows used for nothing else (the calibration period) give, per step ahead, the offsets below
and above a forecast that hold the next reading with the nominal probability. NumPy only.

Signed residuals (reading - forecast) keep a biased method's interval where its readings fall;
each bound is the conformal order statistic of its tail (rank ceil((n + 1)(1 - alpha / 2)) from
either end), which covers at least the nominal share of exchangeable residuals. Further steps
never get narrower intervals than nearer ones. A sensor with fewer than MIN_CALIBRATION_WINDOWS
residuals borrows the pool of all sensors', in units of its own standard deviation.
"""

from __future__ import annotations

import math

import numpy as np

LEVELS = (0.8, 0.95)
MIN_CALIBRATION_WINDOWS = 50
# A stuck sensor has no local movement: its floor keeps scores finite and intervals open.
SCALE_FLOOR_SHARE = 0.1


def bound_name(side: str, level: float) -> str:
    return f"{side}_{round(level * 100)}"


def conformal_offsets(residuals: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the offsets (lower, upper) to add to a forecast for a ``level`` interval, from
    ``residuals`` (windows, steps); widths never shrink with the step. Too few residuals for the
    level's rank give an unbounded side (-inf or inf)."""
    residuals = np.sort(np.asarray(residuals, dtype=np.float64), axis=0)
    count = len(residuals)
    rank = math.ceil((count + 1) * (1 - (1 - level) / 2))
    if rank > count:
        infinite = np.full(residuals.shape[1], np.inf)
        return -infinite, infinite
    lower, upper = residuals[count - rank], residuals[rank - 1]
    return np.minimum.accumulate(lower), np.maximum.accumulate(upper)


def scale_floor(one_step_naive_mae: float | None, std: float) -> float:
    """The least local scale of a sensor: a share of its one-step naive MAE in training, or, for
    a sensor that never moved in training, a millionth of its (floored, positive) std."""
    return max(SCALE_FLOOR_SHARE * (one_step_naive_mae or 0.0), 1e-6 * std)


def local_scales(contexts: np.ndarray, window: int, floor: float) -> np.ndarray:
    """Per context (rows of consecutive readings, the latest last, at least ``window + 1``), the mean
    absolute change between consecutive readings over its latest ``window`` steps, at least ``floor``."""
    latest = np.asarray(contexts, dtype=np.float64)[:, -(window + 1) :]
    return np.maximum(np.abs(np.diff(latest, axis=1)).mean(axis=1), floor)


def level_offsets(scores: np.ndarray) -> dict[str, list[float]]:
    """The offsets per bound name (lower_80, upper_80, ...), each a list over steps, from
    ``scores`` (windows, steps): residuals in units of their local scale."""
    offsets = {}
    for level in LEVELS:
        lower, upper = conformal_offsets(scores, level)
        offsets[bound_name("lower", level)] = lower.tolist()
        offsets[bound_name("upper", level)] = upper.tolist()
    return offsets


def coverage_counts(residuals: np.ndarray, scales: np.ndarray, offsets: dict[str, list[float]]) -> dict[str, int]:
    """How many of ``residuals`` (windows, steps), every step counted, each level's interval holds:
    its offsets times the window's local scale (``scales``, one per window)."""
    residuals = np.asarray(residuals, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)[:, None]
    counts = {}
    for level in LEVELS:
        lower = np.asarray(offsets[bound_name("lower", level)]) * scales
        upper = np.asarray(offsets[bound_name("upper", level)]) * scales
        counts[f"covered_{round(level * 100)}"] = int(((residuals >= lower) & (residuals <= upper)).sum())
    return counts


def binomial_interval(covered: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a coverage of ``covered`` out of ``total``."""
    if total == 0:
        return 0.0, 1.0
    z = {0.95: 1.959963984540054}[confidence]
    share = covered / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half
