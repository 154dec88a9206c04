import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sensor_lstm.evaluation import scores


class Constant:
    """A stand-in model that forecasts one normalized value for every window."""

    def __init__(self, value):
        self.value = value

    def predict(self, x, verbose=0):
        return np.full((len(x), 1), self.value, dtype=np.float32)


def test_batch_error_sums_score_each_model_and_naive_forecast_in_original_units_on_its_windows():
    batch = pa.RecordBatch.from_pydict(
        {
            "sensor_id": ["a", "a", "b"],
            "inputs": [[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]],
            "target": [1.0, 1.0, 0.0],
            "seasonal_naive": [[1.5], [0.0], [-1.0]],
            "mean": [10.0, 10.0, 0.0],
            "std": [2.0, 2.0, 1.0],
        }
    )
    rows = scores.batch_error_sums(batch, {"distributed": Constant(0.5)}, {0: Constant(1.0)}, {"a": 0, "b": 1}, {24: 0})
    sums = {(row["model"], row["sensor_id"]): [row["windows"], row["squared"], row["absolute"]] for row in rows}
    # Actual readings 12, 12 (a) and 0 (b). Distributed forecasts 11, 11, 0.5; persistence 12, 10, 2;
    # seasonal naive 13, 10, -1; the training mean 10, 10, 0.
    assert (sums["distributed", "a"], sums["distributed", "b"]) == ([2.0, 2.0, 2.0], [1.0, 0.25, 0.5])
    assert (sums["persistence", "a"], sums["persistence", "b"]) == ([2.0, 4.0, 2.0], [1.0, 4.0, 2.0])
    assert (sums["seasonal_naive_24", "a"], sums["seasonal_naive_24", "b"]) == ([2.0, 5.0, 3.0], [1.0, 1.0, 1.0])
    assert (sums["training_mean", "a"], sums["training_mean", "b"]) == ([2.0, 8.0, 4.0], [1.0, 0.0, 0.0])
    # Partition 1 (sensor b) has no model: the baselines score sensor a's two windows only, exactly.
    assert sums["partition_baselines", "a"] == [2.0, 0.0, 0.0] and ("partition_baselines", "b") not in sums


def test_a_season_no_test_window_has_is_not_scored_and_the_others_exclude_their_windows(spark, tmp_path):
    # Season 24 is missing for window 2 only; season 168 for every window (the lake starts too late).
    windows = pa.table(
        {
            "sensor_id": ["a", "a", "b"],
            "target_time": pa.array([1, 2, 1], pa.timestamp("us", tz="UTC")),
            "inputs": [[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]],
            "target": pa.array([1.0, 1.0, 0.0], pa.float32()),
            "seasonal_naive": pa.array([[1.5, None], [None, None], [-1.0, None]], pa.list_(pa.float32())),
        }
    )
    pq.write_table(windows, tmp_path / "test.parquet", use_dictionary=["sensor_id"])
    spark.createDataFrame(
        [("a", 10.0, 2.0), ("b", 0.0, 1.0)], "sensor_id string, mean double, std double"
    ).write.parquet(str(tmp_path / "stats"))
    kept, excluded, scored = scores.windows_with_every_naive_forecast(
        spark, str(tmp_path / "test.parquet"), str(tmp_path / "stats"), [24, 168]
    )
    assert (scored, excluded) == ({24: 0}, 1)
    assert sorted((row.sensor_id, row.target, row.mean) for row in kept.collect()) == [
        ("a", 1.0, 10.0),
        ("b", 0.0, 0.0),
    ]
    assert scores.scored_seasons(spark.read.parquet(str(tmp_path / "test.parquet")), []) == {}


def test_a_statistical_forecast_in_original_units_is_scored_only_where_the_window_has_one():
    batch = pa.RecordBatch.from_pydict(
        {
            "sensor_id": ["a", "a", "b"],
            "inputs": [[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]],
            "target": [1.0, 1.0, 0.0],
            "seasonal_naive": [[1.5], [0.0], [-1.0]],
            "mean": [10.0, 10.0, 0.0],
            "std": [2.0, 2.0, 1.0],
            "auto_ets": [11.0, 13.0, None],  # actual readings 12, 12 and 0
        }
    )
    rows = scores.batch_error_sums(batch, {}, {}, {}, {24: 0}, ("auto_ets",))
    sums = {(row["model"], row["sensor_id"]): [row["windows"], row["squared"], row["absolute"]] for row in rows}
    assert sums["auto_ets", "a"] == [2.0, 2.0, 2.0] and ("auto_ets", "b") not in sums
