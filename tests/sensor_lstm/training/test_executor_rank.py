import json
import math

import numpy as np
import pyarrow.fs as pafs
import pytest

from sensor_lstm import scoring
from sensor_lstm.training import executor_rank, rank_spec, rank_tracking
from sensor_lstm.training import model as lstm


def test_test_scores_from_the_ranks_summed_errors():
    actual = [np.array([1.0, 4.0]), np.array([5.0])]
    model = [np.array([1.0, 2.0]), np.array([3.0])]
    persistence = [np.array([0.0, 0.0]), np.array([3.0])]
    summed = sum(
        np.concatenate([scoring.error_sums(m, a), scoring.error_sums(p, a)])
        for m, p, a in zip(model, persistence, actual, strict=True)
    )
    assert executor_rank.scores_on_test_windows(summed) == {
        "test_windows": 3,
        "test_rmse": pytest.approx(math.sqrt(8 / 3)),
        "test_mae": pytest.approx(4 / 3),
        "test_persistence_rmse": pytest.approx(math.sqrt(21 / 3)),
        "test_persistence_mae": pytest.approx(7 / 3),
    }
    assert executor_rank.scores_on_test_windows(np.zeros(6)) == {"test_windows": 0}


def test_throughput_leaves_out_the_first_epoch_unless_it_is_the_only_one():
    assert executor_rank.windows_per_second(1000, [9.0, 2.0, 2.5, 2.0]) == 500.0
    assert executor_rank.windows_per_second(1000, [4.0]) == 250.0


def test_each_local_rank_gets_its_own_cores_or_none():
    assert executor_rank.own_cores(0, 1, {0, 1}) == [0]
    assert executor_rank.own_cores(1, 1, {0, 1}) == [1]
    assert executor_rank.own_cores(1, 2, {2, 3, 5, 7}) == [5, 7]
    assert executor_rank.own_cores(2, 1, {0, 1}) == []


def test_the_kept_fit_round_trips_through_the_lake_and_refuses_weights_it_was_not_written_for(tmp_path):
    model = lstm.build_lstm(6, 4, 0.01, learns_change=True, seed=0)
    fitted = {"epochs_trained": 2, "val_loss": [0.5, 0.25], "unlogged_from": None}
    folder = str(tmp_path / "trained" / "key")
    executor_rank.save_trained(pafs.LocalFileSystem(), folder, model, fitted, "a" * 32)
    assert sorted(path.name for path in (tmp_path / "trained" / "key").iterdir()) == [
        rank_tracking.CHECKPOINT_FILE,
        rank_spec.TRAINED_FILE,
    ]
    other = lstm.build_lstm(6, 4, 0.01, learns_change=True, seed=1)
    assert executor_rank.weights_digest(other) != executor_rank.weights_digest(model)
    assert executor_rank.load_trained(pafs.LocalFileSystem(), folder, other) == {**fitted, "mlflow_run_id": "a" * 32}
    assert executor_rank.weights_digest(other) == executor_rank.weights_digest(model)
    record = json.loads((tmp_path / "trained" / "key" / rank_spec.TRAINED_FILE).read_text())
    (tmp_path / "trained" / "key" / rank_spec.TRAINED_FILE).write_text(
        json.dumps({**record, "weights_digest": "0" * 64})
    )
    with pytest.raises(ValueError, match=r"are not the ones trained\.json was written for"):
        executor_rank.load_trained(
            pafs.LocalFileSystem(), folder, lstm.build_lstm(6, 4, 0.01, learns_change=True, seed=1)
        )
