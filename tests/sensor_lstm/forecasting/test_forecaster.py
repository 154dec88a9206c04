import pickle
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sensor_lstm.forecasting import forecaster
from sensor_lstm.readings.grid import on_grid

MINUTE_US = 60_000_000
OFFSETS = {"lower_80": [-1.0, -2.0], "upper_80": [1.0, 2.0], "lower_95": [-3.0, -4.0], "upper_95": [3.0, 4.0]}


def bundle(**sensors) -> dict:
    return {
        "format": forecaster.BUNDLE_FORMAT,
        "interval_seconds": 60,
        "grid_aggregate": "mean",
        "seq_len": 2,
        "horizon": 1,
        "steps": 2,
        "scale_window": 2,
        "sensors": sensors,
    }


@pytest.mark.parametrize("aggregate", ["mean", "nearest", "last"])
def test_the_forecaster_puts_readings_on_the_grid_exactly_as_the_spark_jobs_do(spark, aggregate):
    start = datetime(2026, 11, 25)
    # Jitter, a tie half way between two points (to the earlier), and three readings in one minute.
    seconds = [0, 58, 61, 90, 150, 170, 175, 181, 240]
    rows = [("a", start + timedelta(seconds=second), float(index)) for index, second in enumerate(seconds)]
    frame = spark.createDataFrame(rows, "sensor_id string, timestamp timestamp, reading double")
    expected = [(row.timestamp, row.reading) for row in on_grid(frame, 60, aggregate).orderBy("timestamp").collect()]
    times_us = np.array([int((moment - datetime(1970, 1, 1)).total_seconds() * 1e6) for _, moment, _ in rows])
    points, values = forecaster.grid_points(times_us, [value for *_, value in rows], MINUTE_US, aggregate)
    assert [
        (datetime(1970, 1, 1) + timedelta(microseconds=int(p)), v) for p, v in zip(points, values, strict=True)
    ] == [(moment, pytest.approx(value)) for moment, value in expected]


def test_each_sensor_is_forecast_by_its_own_method_with_its_intervals_or_gets_its_reason():
    class NextOfALine:
        def predict(self, x, verbose=0):
            return x[:, -1, :] + 1

    model = forecaster.Forecaster(
        bundle(
            line={"method": "model:4", "mean": 10.0, "std": 2.0, "offsets": OFFSETS, "scale_floor": 0.1},
            flat={"method": "persistence", "mean": 0.0, "std": 1.0, "offsets": OFFSETS, "scale_floor": 0.5},
        ),
        NextOfALine(),
    )
    frame = pd.DataFrame(
        {
            "sensor_id": ["line", "flat", "flat", "nobody", "flat"],
            "timestamps": [
                ["2026-11-25T00:00:00Z", "2026-11-25T00:01:02Z", "2026-11-25T00:02:00Z"],
                ["2026-11-25T00:03:00", "2026-11-25T00:04:00", "2026-11-25T00:05:00"],
                [],
                ["2026-11-25T00:05:00Z"],
                ["2026-11-25T00:03:00Z", "2026-11-25T00:04:00Z", "2026-11-25T00:05:00Z", "2026-11-25T00:05:20Z"],
            ],
            "readings": [[8.0, 10.0, 12.0], [7.5, 7.5, 7.5], [], [1.0], [1.0, 1.0, 1.0, 3.0]],
        }
    )
    out = model.forecast_frame(frame)
    assert list(out.columns) == list(forecaster.OUTPUT_COLUMNS)
    line = out.iloc[0]
    # Normalized 0 and 1; the model's next values 2 and 3 are 14 and 16 in original units.
    assert (line.method, line.issued_at, line.forecast, line.reason) == (
        "model:4",
        "2026-11-25T00:02:00.000000Z",
        [14.0, 16.0],
        "",
    )
    assert line.target_times == ["2026-11-25T00:03:00.000000Z", "2026-11-25T00:04:00.000000Z"]
    # The offsets in units of the local scale: the mean absolute change over the last 2 steps, 2.
    assert (line.lower_95, line.upper_80) == ([8.0, 8.0], [16.0, 20.0])
    flat = out.iloc[1]
    # A sensor that did not move: its scale is its floor, 0.5.
    assert (flat.method, flat.forecast, flat.lower_80, flat.upper_95) == (
        "persistence",
        [7.5, 7.5],
        [7.0, 6.5],
        [9.0, 9.5],
    )
    assert out.reason.tolist()[2:] == [forecaster.NO_READINGS, forecaster.UNKNOWN_SENSOR, ""]
    # Two readings in one minute: their mean.
    assert out.iloc[4].forecast == [2.0, 2.0]
    # Seq_len 2 and a scale window of 2 steps take the latest 3 grid points, without a gap.
    gap = model.forecast("line", np.array([0, MINUTE_US, 3 * MINUTE_US]), np.array([1.0, 2.0, 3.0]))
    short = model.forecast("line", np.array([0, MINUTE_US]), np.array([1.0, 2.0]))
    assert (gap["reason"], short["reason"]) == (forecaster.GAP_IN_LATEST_READINGS, forecaster.TOO_FEW_READINGS)


def test_a_partition_baselines_sensor_is_forecast_by_its_own_partitions_model():
    class AddsStep:
        def __init__(self, step):
            self.step = step

        def predict(self, x, verbose=0):
            return x[:, -1, :] + self.step

    plan = {"method": "partition_baselines", "mean": 10.0, "std": 2.0, "offsets": OFFSETS, "scale_floor": 0.1}
    model = forecaster.Forecaster(
        bundle(a={**plan, "partition": 0}, b={**plan, "partition": 1}),
        partition_models={0: AddsStep(1.0), 1: AddsStep(-0.5)},
    )
    times, readings = np.arange(3) * MINUTE_US, np.array([8.0, 10.0, 12.0])
    # Normalized 0 and 1: partition 0's next values 2 and 3 (14, 16), partition 1's 0.5 and 0 (11, 10).
    assert model.forecast("a", times, readings)["forecast"] == [14.0, 16.0]
    assert model.forecast("b", times, readings)["forecast"] == [11.0, 10.0]
    assert model.forecast("b", times, readings)["method"] == "partition_baselines"


def test_the_partition_models_survive_their_artifact(tmp_path):
    from sensor_lstm.training.model import build_lstm, model_from_spec, model_spec

    specs = {3: model_spec(build_lstm(4, 2, 0.01, learns_change=True, seed=3))}
    specs[7] = model_spec(build_lstm(4, 2, 0.01, learns_change=False, seed=7))
    stored = forecaster.save_partition_models(specs, tmp_path)
    loaded = forecaster.load_partition_models(stored["partition_models"])
    windows = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4, 1)
    assert sorted(loaded) == [3, 7]
    for partition, spec in specs.items():
        expected = model_from_spec(spec).predict(windows, verbose=0)
        assert loaded[partition].predict(windows, verbose=0) == pytest.approx(expected, abs=0)


def test_a_statistical_method_forecasts_from_its_history_with_its_fitted_model_and_survives_its_artifact(tmp_path):
    class LastPlusStep:
        """Stands for a fitted statsforecast model: the next values of a line from its history."""

        def forward(self, y, h):
            assert len(y) == 4  # its history, not more
            return {"mean": y[-1] + np.arange(1, h + 1) * (y[-1] - y[-2])}

    plan = {"method": "auto_arima", "history": 4, "season": 1, "mean": 0.0, "std": 1.0}
    plan |= {"offsets": OFFSETS, "scale_floor": 0.1}
    model = forecaster.Forecaster(bundle(ramp=plan), statistical_models={"ramp": LastPlusStep()})
    assert model.readings_needed(plan) == 4
    times = np.arange(6) * MINUTE_US
    out = model.forecast("ramp", times, np.arange(6, dtype=float) * 2)
    assert (out["method"], out["forecast"], out["reason"]) == ("auto_arima", [12.0, 14.0], "")
    # A missing reading is filled by interpolation, as the model was fitted and scored.
    gappy = model.forecast("ramp", np.delete(times, 3), np.delete(np.arange(6, dtype=float) * 2, 3))
    assert (gappy["forecast"], gappy["reason"]) == ([12.0, 14.0], "")
    too_short = model.forecast("ramp", times[:3], np.arange(3, dtype=float))
    assert too_short["reason"] == forecaster.TOO_FEW_READINGS
    stored = forecaster.save_statistical({"ramp/1": pickle.dumps(np.arange(3))}, tmp_path)
    assert forecaster.load_statistical(stored["statistical_models"])["ramp/1"].tolist() == [0, 1, 2]
