import numpy as np
import pyarrow as pa
import pytest

from spark_jobs import evaluate


class Constant:
    """A stand-in model that forecasts one normalized value for every window."""

    def __init__(self, value):
        self.value = value

    def predict(self, x, verbose=0):
        return np.full((len(x), 1), self.value, dtype=np.float32)


def test_batch_error_sums_score_each_model_in_original_units_on_its_windows():
    batch = pa.RecordBatch.from_pydict(
        {
            "sensor_id": ["a", "a", "b"],
            "inputs": [[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]],
            "target": [1.0, 1.0, 0.0],
            "mean": [10.0, 10.0, 0.0],
            "std": [2.0, 2.0, 1.0],
        }
    )
    sums = evaluate.batch_error_sums(batch, {"distributed": Constant(0.5)}, {0: Constant(1.0)}, {"a": 0, "b": 1})
    # Actual readings 12, 12, 0. Distributed forecasts 11, 11, 0.5; persistence 12, 10, 2.
    assert sums["distributed"].tolist() == [3.0, 2.25, 2.5]
    assert sums["persistence"].tolist() == [3.0, 8.0, 4.0]
    # Partition 1 (sensor b) has no model: the baselines score sensor a's two windows, exactly.
    assert sums["partition_baselines"].tolist() == [2.0, 0.0, 0.0]


def test_champion_decision():
    candidate = {"version": 5, "scores": {"rmse": 0.4, "windows": 100}}
    assert evaluate.champion_decision(candidate, None) == (True, "no champion yet: version 5 becomes the first")
    better = {"version": 3, "seq_len_matches": True, "scores": {"rmse": 0.5, "windows": 100}}
    assert evaluate.champion_decision(candidate, better) == (
        True, "test RMSE 0.4000 beats champion version 3's 0.5000 on the same 100 windows")  # fmt: skip
    worse = {**better, "scores": {"rmse": 0.3, "windows": 100}}
    assert evaluate.champion_decision(candidate, worse) == (
        False, "test RMSE 0.4000 does not beat champion version 3's 0.3000 on the same 100 windows")  # fmt: skip
    assert evaluate.champion_decision(candidate, {**better, "version": 5}) == (False, "version 5 already is the champion")
    promoted, reason = evaluate.champion_decision(candidate, {"version": 3, "seq_len_matches": False})
    assert not promoted and reason.startswith("champion version 3 takes windows of another length")


def test_comparison_table_puts_the_best_first_and_unscored_models_last():
    scores = {
        "distributed": {"windows": 10, "rmse": 0.25, "mae": 0.2},
        "persistence": {"windows": 10, "rmse": 0.5, "mae": 0.4},
        "partition_baselines": {"windows": 0},
    }
    sources = {"distributed": "models:/m/2", "partition_baselines": "runs:/r/partition-*", "persistence": "the last input"}
    rows = evaluate.comparison_rows(scores, sources)
    assert [row["model"] for row in rows] == ["distributed", "persistence", "partition_baselines"]
    assert evaluate.comparison_text(rows).splitlines() == [
        "model                 test RMSE   test MAE  windows  source",
        "distributed              0.2500     0.2000       10  models:/m/2",
        "persistence              0.5000     0.4000       10  the last input",
        "partition_baselines           -          -        0  runs:/r/partition-*",
    ]
