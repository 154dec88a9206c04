"""The forecast-vs-actual figure rank 0 logs with the distributed model."""

from __future__ import annotations

import numpy as np

from sensor_lstm.training.shards import Windows
from sensor_lstm.windows import tensors


def original_units(windows: Windows, normalized: np.ndarray) -> np.ndarray:
    return tensors.to_original_units(normalized, windows.mean, windows.std)


def forecast_plot(windows: Windows, predicted: np.ndarray, sensors: int):
    """Forecast against actual readings over the test period for the first few sensors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = list(dict.fromkeys(windows.sensor_id))[:sensors]
    figure, axes = plt.subplots(len(chosen), 1, figsize=(10, 2.6 * len(chosen)), squeeze=False, sharex=True)
    actual = original_units(windows, windows.y)
    for axis, sensor in zip(axes[:, 0], chosen, strict=True):
        mine = windows.sensor_id == sensor
        axis.plot(windows.target_time[mine], actual[mine], label="actual", linewidth=1)
        axis.plot(windows.target_time[mine], predicted[mine], label="LSTM forecast", linewidth=1)
        axis.set_title(sensor, fontsize=9, parse_math=False)  # an id is text, never math
        axis.set_ylabel("reading")
    axes[0, 0].legend(loc="upper right")
    axes[-1, 0].set_xlabel("target time (UTC)")
    figure.suptitle("Test period: forecast vs actual")
    figure.tight_layout()
    return figure
