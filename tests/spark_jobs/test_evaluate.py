import math

import numpy as np
import pyarrow as pa
import pytest

from spark_jobs import evaluate, job


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
    sums = evaluate.batch_error_sums(
        batch, {"distributed": Constant(0.5)}, {0: Constant(1.0)}, {"a": 0, "b": 1}, {24: 0}
    )
    # Actual readings 12, 12, 0. Distributed forecasts 11, 11, 0.5; persistence 12, 10, 2;
    # seasonal naive 13, 10, -1; the training mean 10, 10, 0.
    assert sums["distributed"].tolist() == [3.0, 2.25, 2.5]
    assert sums["persistence"].tolist() == [3.0, 8.0, 4.0]
    assert sums["seasonal_naive_24"].tolist() == [3.0, 6.0, 4.0]
    assert sums["training_mean"].tolist() == [3.0, 8.0, 4.0]
    # Partition 1 (sensor b) has no model: the baselines score sensor a's two windows, exactly.
    assert sums["partition_baselines"].tolist() == [2.0, 0.0, 0.0]


PERSISTENCE_ROW = {"model": "persistence", "naive": True, "rmse": 0.5, "windows": 100}


def test_a_first_version_becomes_champion_only_past_the_quality_gate():
    better = {"version": 1, "scores": {"rmse": 0.4, "windows": 100}}
    assert evaluate.champion_decision(better, None, PERSISTENCE_ROW, 0.0) == (
        True,
        "no champion yet: version 1 becomes the first (skill 20.0% over persistence)",
    )
    worse = {"version": 1, "scores": {"rmse": 0.55, "windows": 100}}
    assert evaluate.champion_decision(worse, None, PERSISTENCE_ROW, 0.0) == (
        False,
        (
            "version 1 fails the quality gate: test RMSE 0.5500 against persistence's 0.5000 on the same 100 windows "
            "is a skill of -10.0%, the gate asks for more than 0.0%"
        ),
    )
    # The margin: 20% better than persistence is not enough when the gate asks for 25%.
    promoted, reason = evaluate.champion_decision(better, None, PERSISTENCE_ROW, 0.25)
    assert not promoted and reason.endswith("is a skill of 20.0%, the gate asks for more than 25.0%")


def test_a_later_version_must_pass_the_gate_and_beat_the_champion_on_the_same_windows():
    champion = {"version": 3, "seq_len_matches": True, "scores": {"rmse": 0.6, "windows": 100}}
    # Better than a champion that itself loses to persistence: still no.
    candidate = {"version": 5, "scores": {"rmse": 0.55, "windows": 100}}
    promoted, reason = evaluate.champion_decision(candidate, champion, PERSISTENCE_ROW, 0.0)
    assert not promoted and reason.startswith("version 5 fails the quality gate: test RMSE 0.5500")
    candidate = {"version": 5, "scores": {"rmse": 0.4, "windows": 100}}
    assert evaluate.champion_decision(candidate, champion, PERSISTENCE_ROW, 0.0) == (
        True,
        ("test RMSE 0.4000 beats champion version 3's 0.6000 on the same 100 windows (skill 20.0% over persistence)"),
    )
    stronger = {**champion, "scores": {"rmse": 0.3, "windows": 100}}
    assert evaluate.champion_decision(candidate, stronger, PERSISTENCE_ROW, 0.0) == (
        False,
        "test RMSE 0.4000 does not beat champion version 3's 0.3000 on the same 100 windows",
    )
    assert evaluate.champion_decision(candidate, {**champion, "version": 5}, PERSISTENCE_ROW, 0.0) == (
        False,
        "version 5 already is the champion",
    )
    promoted, reason = evaluate.champion_decision(
        candidate, {"version": 3, "seq_len_matches": False}, PERSISTENCE_ROW, 0.0
    )
    assert not promoted and reason.startswith("champion version 3 takes windows of another length")


def test_comparison_table_puts_the_best_first_with_skill_over_the_best_naive_forecast():
    scores = {
        "distributed": {"windows": 10, "rmse": 0.25, "mae": 0.2},
        "persistence": {"windows": 10, "rmse": 0.5, "mae": 0.4},
        "seasonal_naive_24": {"windows": 10, "rmse": 0.4, "mae": 0.3},
        "partition_baselines": {"windows": 0},
    }
    sources = {
        "distributed": "models:/m/2",
        "partition_baselines": "runs:/r/partition-*",
        "persistence": "the last input",
        "seasonal_naive_24": "the reading 24 steps before the target",
    }
    rows = evaluate.comparison_rows(scores, sources, {"persistence", "seasonal_naive_24"})
    assert evaluate.best_naive(rows)["model"] == "seasonal_naive_24"
    assert evaluate.comparison_text(rows).splitlines() == [
        "model                   test RMSE   test MAE   skill  windows  source",
        "distributed                0.2500     0.2000   37.5%       10  models:/m/2",
        "seasonal_naive_24          0.4000     0.3000    0.0%       10  the reading 24 steps before the target",
        "persistence                0.5000     0.4000  -25.0%       10  the last input",
        "partition_baselines             -          -       -        0  runs:/r/partition-*",
    ]


def test_skill_against_a_perfect_naive_forecast():
    assert evaluate.skill(0.4, 0.5) == pytest.approx(0.2)
    assert evaluate.skill(0.0, 0.0) == 0.0
    assert evaluate.skill(0.1, 0.0) == -math.inf
    # A stuck sensor's persistence is perfect: nothing passes the gate.
    stuck = {"model": "persistence", "naive": True, "rmse": 0.0, "windows": 10}
    promoted, reason = evaluate.champion_decision(
        {"version": 1, "scores": {"rmse": 0.1, "windows": 10}}, None, stuck, 0.0
    )
    assert not promoted and "is a skill of -inf%" in reason


def test_a_season_no_test_window_has_is_not_scored_and_the_others_exclude_their_windows(spark, tmp_path):
    # Season 24 is missing for window 2 only; season 168 for every window (the lake starts too late).
    windows = pa.table(
        {
            "sensor_id": ["a", "a", "b"],
            "inputs": [[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]],
            "target": pa.array([1.0, 1.0, 0.0], pa.float32()),
            "seasonal_naive": pa.array([[1.5, None], [None, None], [-1.0, None]], pa.list_(pa.float32())),
        }
    )
    import pyarrow.parquet as pq

    pq.write_table(windows, tmp_path / "test.parquet", use_dictionary=["sensor_id"])
    spark.createDataFrame(
        [("a", 10.0, 2.0), ("b", 0.0, 1.0)], "sensor_id string, mean double, std double"
    ).write.parquet(str(tmp_path / "stats"))
    kept, excluded, scored = evaluate.windows_with_every_naive_forecast(
        spark, str(tmp_path / "test.parquet"), str(tmp_path / "stats"), [24, 168]
    )
    assert (scored, excluded) == ({24: 0}, 1)
    assert sorted((row.sensor_id, row.target, row.mean) for row in kept.collect()) == [
        ("a", 1.0, 10.0),
        ("b", 0.0, 0.0),
    ]
    assert evaluate.scored_seasons(spark.read.parquet(str(tmp_path / "test.parquet")), []) == {}


def test_a_backfill_never_takes_the_alias_from_a_champion_of_a_later_day_unless_asked():
    champion = {"version": 7, "run_day": "2026-11-25", "seq_len_matches": True, "scores": {"rmse": 0.6, "windows": 100}}
    backfill = {"version": 8, "run_day": "2026-11-20", "scores": {"rmse": 0.4, "windows": 100}}
    assert evaluate.champion_decision(backfill, champion, PERSISTENCE_ROW, 0.0) == (
        False,
        (
            "version 8 is for 2026-11-20, before champion version 7's 2026-11-25: a backfill does not replace a "
            "champion trained on newer data unless asked (Param promote_older_day)"
        ),
    )
    assert evaluate.champion_decision(backfill, champion, PERSISTENCE_ROW, 0.0, promote_older_day=True)[0] is True
    same_day = {**backfill, "run_day": "2026-11-25"}
    assert evaluate.champion_decision(same_day, champion, PERSISTENCE_ROW, 0.0)[0] is True


def test_evaluate_loads_only_versions_and_runs_of_its_own_model_named_in_the_reports():
    run_id = "0123456789abcdef0123456789abcdef"
    evaluate.check_models_named(
        {"model_name": "sensor_lstm", "model_version": 3}, {"mlflow_run_id": run_id}, "sensor_lstm"
    )
    with pytest.raises(job.JobInputError, match="names model 'someone_elses' version 3; this pipeline loads only"):
        evaluate.check_models_named(
            {"model_name": "someone_elses", "model_version": 3}, {"mlflow_run_id": run_id}, "sensor_lstm"
        )
    with pytest.raises(job.JobInputError, match=r"names run '../x', not a run id"):
        evaluate.check_models_named(
            {"model_name": "sensor_lstm", "model_version": 3}, {"mlflow_run_id": "../x"}, "sensor_lstm"
        )
