from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from sensor_lstm.evaluation.interval_plot import held_out_paths, interval_plot, plotted_sensors
from sensor_lstm.forecasting import forecaster

OFFSETS = {"lower_80": [-1.0, -1.0], "upper_80": [1.0, 1.0], "lower_95": [-2.0, -2.0], "upper_95": [2.0, 2.0]}


def test_one_sensor_of_each_method_is_plotted_first():
    methods = {"d": "persistence", "a": "model:2", "b": "model:2", "c": "seasonal_naive_24", "e": "model:2"}
    assert plotted_sensors(methods, limit=4) == ["a", "c", "d", "b"]
    assert plotted_sensors(methods, limit=2) == ["a", "c"]


def test_the_forecaster_forecasts_the_held_out_readings_and_a_sensor_it_cannot_is_left_out():
    bundle = {
        "format": forecaster.BUNDLE_FORMAT,
        "interval_seconds": 60,
        "grid_aggregate": "mean",
        "seq_len": 2,
        "horizon": 1,
        "steps": 2,
        "scale_window": 2,
        "sensors": {
            name: {"method": "persistence", "mean": 0.0, "std": 1.0, "offsets": OFFSETS, "scale_floor": 0.1}
            for name in ("ramp", "gap")
        },
    }
    start = datetime(2026, 11, 25)
    ramp = [("ramp", start + timedelta(minutes=m), float(m)) for m in range(6)]
    gap = [("gap", start + timedelta(minutes=m), 1.0) for m in (0, 1, 3, 4, 5)]
    frame = pd.DataFrame(ramp + gap, columns=["sensor_id", "timestamp", "reading"])
    [path] = held_out_paths(frame, forecaster.Forecaster(bundle), steps=2, history=3)
    # From 0..3 (a change of 1 a minute, the scale): persistence 3, bounds 3 -+ 1 and 3 -+ 2.
    assert (path["sensor_id"], path["forecast"], path["lower_80"], path["upper_95"]) == (
        "ramp",
        [3.0, 3.0],
        [2.0, 2.0],
        [5.0, 5.0],
    )
    assert (path["history"].tolist(), path["actual"].tolist()) == ([1.0, 2.0, 3.0], [4.0, 5.0])
    figure = interval_plot([path], {"ramp": "degC"})
    assert [axis.get_ylabel() for axis in figure.axes] == ["degC"]
    assert figure.axes[0].get_title() == "ramp (persistence)"
    assert np.allclose(figure.axes[0].lines[-1].get_ydata(), [3.0, 3.0])
