"""The figure evaluate logs with the forecaster (``forecaster_intervals.png``): for a few sensors,
what the forecaster says from the readings up to ``steps`` grid points before the lookback's last
one, its 80% and 95% intervals, and the readings that came. The forecast runs through
Forecaster.forecast, as the forecast job and serving run it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sensor_lstm.forecasting.forecaster import Forecaster, read_timestamps

PLOTTED_SENSORS = 4


def plotted_sensors(methods: dict[str, str], limit: int = PLOTTED_SENSORS) -> list[str]:
    """At most ``limit`` sensors, one per method first (by sensor id), so each method is seen."""
    first_of_method: dict[str, str] = {}
    for sensor in sorted(methods):
        first_of_method.setdefault(methods[sensor], sensor)
    chosen = sorted(first_of_method.values())[:limit]
    chosen += [sensor for sensor in sorted(methods) if sensor not in chosen][: limit - len(chosen)]
    return chosen


def held_out_paths(readings: pd.DataFrame, model: Forecaster, steps: int, history: int) -> list[dict]:
    """Per sensor of ``readings`` (sensor_id, timestamp, reading; on the grid), the forecaster's
    output from all but its last ``steps`` readings, with those readings and the ``history`` before
    them. Sensors the forecaster cannot forecast there (a gap, too few readings) are left out."""
    paths = []
    for sensor, mine in readings.sort_values("timestamp").groupby("sensor_id", sort=True):
        times_us = mine["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        values = mine["reading"].to_numpy(dtype=np.float64)
        if len(values) <= steps:
            continue
        out = model.forecast(str(sensor), times_us[:-steps], values[:-steps])
        if out["reason"]:
            continue
        paths.append(
            {
                **out,
                "history_times": times_us[-steps - history : -steps],
                "history": values[-steps - history : -steps],
                "actual_times": times_us[-steps:],
                "actual": values[-steps:],
            }
        )
    return paths


def interval_plot(paths: list[dict], units: dict[str, str | None]):
    """One panel per path: readings before, the forecast with its 80% and 95% bands, what came."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(paths), 1, figsize=(10, 2.6 * len(paths)), squeeze=False)
    for axis, path in zip(axes[:, 0], paths, strict=True):
        targets = read_timestamps(path["target_times"]).astype("datetime64[us]")
        axis.plot(path["history_times"].astype("datetime64[us]"), path["history"], color="black", linewidth=1)
        axis.plot(path["actual_times"].astype("datetime64[us]"), path["actual"], "o", color="black", markersize=3)
        axis.fill_between(targets, path["lower_95"], path["upper_95"], alpha=0.2, color="tab:blue", label="95%")
        axis.fill_between(targets, path["lower_80"], path["upper_80"], alpha=0.35, color="tab:blue", label="80%")
        axis.plot(targets, path["forecast"], color="tab:blue", linewidth=1.5, label="forecast")
        axis.set_title(f"{path['sensor_id']} ({path['method']})", fontsize=9, parse_math=False)
        axis.set_ylabel(units.get(path["sensor_id"]) or "reading", parse_math=False)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("time (UTC); dots: the readings that came")
    figure.suptitle("The forecaster on held-out readings: forecast and prediction intervals")
    figure.tight_layout()
    return figure
