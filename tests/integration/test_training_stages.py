"""The three training stages on tiny data, in-process on local[2]: per-partition baselines, real
2-rank Horovod training through horovod.spark.run (to convergence), and evaluate naming the first
champion past the quality gate; then a retried distributed training cut short at one epoch, which
the gate keeps from the alias."""

import contextlib
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sensor_lstm.evaluation import comparison, forecaster_bundle
from sensor_lstm.evaluation.evaluate import EVALUATION_COLUMNS, evaluate, load_candidates
from sensor_lstm.evaluation.forecaster_bundle import (
    ForecastingLSTM,
    PartitionModels,
    build_forecaster,
    register_forecaster,
)
from sensor_lstm.forecasting.forecast import forecast
from sensor_lstm.lake import files_digest
from sensor_lstm.readings.catalog import HEADER as CATALOG_HEADER
from sensor_lstm.settings.table import STATISTICAL_MODELS
from sensor_lstm.statistical.stage import fit_statistical
from sensor_lstm.training.baseline import train_baseline
from sensor_lstm.training.distributed import train_distributed
from sensor_lstm.windows.cutter import SPLITS
from sensor_lstm.windows.prepare import prepare_sequences
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.integration
DAY = "2026-11-25"
MODEL = "test-lstm"


REAL_LOGGERS = ["jittered", "every_minute", "nearly_stuck"]


def real_logger_readings(start: datetime) -> list[tuple]:
    """Loggers as they are, in a 5-minute run: a clock jittering by up to 20 s, a logger reading
    every minute, and a sensor stuck at 20.0 but for one 20.1."""
    jittered = [
        (
            "jittered",
            start + timedelta(seconds=300 * step + (7 * step) % 41 - 20 if step else 0),
            25 + 3 * math.sin(step / 12),
        )
        for step in range(288)
    ]
    every_minute = [("every_minute", start + timedelta(minutes=m), 26 + 3 * math.sin(m / 60)) for m in range(1440)]
    stuck = [("nearly_stuck", start + timedelta(minutes=5 * step), 20.1 if step == 50 else 20.0) for step in range(288)]
    return jittered + every_minute + stuck


@pytest.fixture(scope="module")
def stages(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{lake}/mlflow.db")
        patch.setenv("SENSOR_LSTM_MLFLOW_ARTIFACTS", str(lake / "artifacts"))
        patch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "1")  # the training takes seconds
        start = datetime(2026, 11, 25)
        readings = [
            (sensor, start + timedelta(minutes=5 * step), 20.0 + offset + 3 * math.sin(step / 12))
            for offset, sensor in enumerate(["s1", "s2", "s3"])
            for step in range(288)
        ]
        write_readings(spark, lake, readings + real_logger_readings(start))
        (lake / "catalog").mkdir()
        (lake / "catalog" / "sensors.csv").write_text(f"{','.join(CATALOG_HEADER)}\nnearly_stuck,degC,,,\n")
        common = ["--lake", str(lake), "--run-date", DAY]
        tracking = ["--experiment", "test-training", "--tag", "airflow_run_id=manual__1"]
        # The seasonal naive forecast of one hour: the lookback holds no reading a day before.
        prepared = prepare_sequences(
            spark,
            job_args(
                "prepare_sequences",
                *[
                    *common,
                    "--lookback-days",
                    "1",
                    "--sampling-interval-seconds",
                    "300",
                    "--seq-len",
                    "6",
                    "--seasonal-periods",
                    "12",
                ],
            ),
        )
        reports = {
            "prepared": prepared,
            "baseline": train_baseline(
                spark,
                job_args(
                    "train_baseline",
                    *[*common, *tracking, "--partitions", "2", "--epochs", "2", "--min-train-windows", "10"],
                ),
            ),
            "distributed": train_distributed(
                spark,
                job_args(
                    "train_distributed",
                    *[*common, *tracking, "--num-proc", "2", "--lstm-units", "4", "--model-name", MODEL],
                ),
            ),
        }
        reports["statistical"] = fit_statistical(
            spark,
            job_args("fit_statistical", *[*common, *tracking, "--statistical-targets", "10"]),
        )
        reports["evaluate"] = evaluate(spark, job_args("evaluate", *[*common, *tracking, "--model-name", MODEL]))
        reports["retry"] = train_distributed(
            spark,
            job_args(
                "train_distributed",
                *[
                    *common,
                    *tracking,
                    "--num-proc",
                    "2",
                    "--epochs",
                    "1",
                    "--lstm-units",
                    "4",
                    # A plain LSTM: one that learns the change starts as persistence and would not lose.
                    "--no-lstm-learns-change",
                    "--model-name",
                    MODEL,
                    "--tag",
                    "try_number=2",
                ],
            ),
        )
        reports["lake"] = lake
        reports["evaluate_retry"] = evaluate(spark, job_args("evaluate", *[*common, *tracking, "--model-name", MODEL]))
        reports["forecast"] = forecast(spark, job_args("forecast", *[*common, "--model-name", MODEL]))
        yield reports


def test_both_ranks_trained_to_identical_weights_and_rank_0_alone_logged(stages):
    report = stages["distributed"]
    ranks = report.ranks
    assert [rank["rank"] for rank in ranks] == [0, 1]
    assert all(rank["train_windows"] > 0 for rank in ranks)
    assert ranks[0]["train_windows"] == ranks[1]["train_windows"]
    assert ranks[0]["weights_digest"] == ranks[1]["weights_digest"]
    assert [rank["logged_to_mlflow"] for rank in ranks] == [True, False]
    client = mlflow.MlflowClient()
    # One value per epoch: a second rank logging would have doubled them.
    history = client.get_metric_history(report.mlflow_run_id, "val_loss")
    assert [metric.step for metric in history] == list(range(report.epochs_trained))
    assert [metric.value for metric in history] == pytest.approx(report.val_loss)
    run = client.get_run(report.mlflow_run_id)
    assert run.data.tags["airflow_run_id"] == "manual__1" and run.data.tags["run_day"] == DAY
    assert run.data.params["num_proc"] == "2"
    assert run.data.params["ranks_reason"] == report.ranks_reason == "num_proc 2 as asked"
    rate = report.effective_learning_rate
    assert float(run.data.params["effective_learning_rate"]) == rate and report.learning_rate[0] == pytest.approx(rate)
    assert run.data.metrics["test_rmse"] == pytest.approx(report.test["test_rmse"])
    assert {"forecast_vs_actual.png", "checkpoint"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_a_model_version_leads_back_to_the_exact_windows_it_was_trained_on(stages):
    report, client = stages["distributed"], mlflow.MlflowClient()
    sequences = stages["lake"] / "sequences" / f"date={DAY}"
    stats = stages["lake"] / "sequence_stats" / f"date={DAY}"
    # Every file, as Hadoop lists them: its local file system hides its own .crc checksum files.
    files = [
        (f"{name}/{path.relative_to(folder)}", path.stat().st_size)
        for name, folder in (("sequences", sequences), ("sequence_stats", stats))
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(".crc")
    ]
    digest = files_digest(files)
    assert report.data_digest == stages["baseline"].data_digest == digest
    version = client.get_model_version(MODEL, str(report.model_version))
    assert (version.tags["sequences"], version.tags["data_digest"]) == (str(sequences), digest)
    windows = {split: str(count) for split, count in stages["prepared"].windows.items()}
    for run_id in (report.mlflow_run_id, stages["baseline"].mlflow_run_id):
        (logged,) = client.get_run(run_id).inputs.dataset_inputs
        assert (logged.dataset.name, logged.dataset.digest) == (f"sequences/date={DAY}", digest)
        assert str(sequences) in logged.dataset.source
        assert {tag.key: tag.value for tag in logged.tags} == {
            "mlflow.data.context": "training",
            **{f"{split}_windows": count for split, count in windows.items()},
        }
    # Rank 0's host over the training: CPU and memory, sampled every second here.
    metrics = client.get_run(report.mlflow_run_id).data.metrics
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= set(metrics)


def test_every_stage_run_of_the_dag_run_nests_under_one_run_that_stands_for_it(stages):
    client = mlflow.MlflowClient()
    run_ids = [
        stages[name].mlflow_run_id
        for name in ("baseline", "distributed", "statistical", "evaluate", "retry", "evaluate_retry")
    ]
    (parent,) = {client.get_run(run_id).data.tags["mlflow.parentRunId"] for run_id in run_ids}
    tags = client.get_run(parent).data.tags
    assert (tags["run_kind"], tags["airflow_run_id"], tags["run_day"]) == ("dag_run", "manual__1", DAY)


def test_the_registered_model_loads_and_forecasts_one_value_per_window(stages):
    report = stages["distributed"]
    model = mlflow.pyfunc.load_model(report.model_uri)
    assert np.asarray(model.predict(np.zeros((7, 6, 1), dtype=np.float32))).shape == (7, 1)
    assert model.metadata.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 6, 1)
    champion = mlflow.tensorflow.load_model(f"models:/{MODEL}@champion")
    assert champion.predict(np.zeros((2, 6, 1), dtype=np.float32), verbose=0).shape == (2, 1)


def pooled_rmse(table, forecaster: str) -> float:
    rows = table[(table.forecaster == forecaster) & (table.scored_on == "test_windows")]
    return math.sqrt(float((rows.rmse**2 * rows.windows).sum() / rows.windows.sum()))


def test_evaluate_scores_every_model_per_sensor_on_the_same_windows_and_names_the_first_champion(stages):
    report, windows = stages["evaluate"], stages["distributed"].test["test_windows"]
    summary = {row["model"]: row for row in report.comparison}
    assert set(summary) == {"distributed", "partition_baselines", "persistence", "seasonal_naive_12", "training_mean"}
    # An hour's readings precede the test period: every test window has its seasonal naive forecast.
    assert report.test_windows_left_out == 0
    assert {summary[name]["windows"] for name in summary if name != "partition_baselines"} == {windows}
    # The run's table in MLflow (the lake's partition now holds the retry's evaluation of the same day).
    table = mlflow.load_table("evaluation.json", run_ids=[report.mlflow_run_id])
    assert set(table.sensor_id) == {"s1", "s2", "s3", *REAL_LOGGERS}
    assert table[table.scored_on == "test_windows"].groupby("forecaster").windows.sum()["distributed"] == windows
    # Per sensor, added up again, is the training's own pooled test RMSE on the same windows.
    assert pooled_rmse(table, "distributed") == pytest.approx(stages["distributed"].test["test_rmse"], rel=1e-5)
    # The logger stuck at 20.0 through the test period is listed apart: no skill over an exact
    # persistence (not -inf), and out of the medians.
    assert report.sensors_apart == {"nearly_stuck": comparison.EXACT_NAIVE_ON_TEST}
    assert table[table.sensor_id == "nearly_stuck"].skill.isna().all() and table.skill.notna().sum() > 0
    assert summary["distributed"]["sensors"] == 5
    assert summary["distributed"]["median_mase"] < min(
        summary[name]["median_mase"] for name in ("persistence", "seasonal_naive_12", "training_mean")
    )
    assert report.champion_promoted and report.champion_version == stages["distributed"].model_version
    assert report.champion_decision.startswith("no champion yet: version")
    run = mlflow.MlflowClient().get_run(report.mlflow_run_id)
    assert run.data.tags["champion_decision"] == report.champion_decision
    assert run.data.metrics["distributed.median_mase"] == pytest.approx(summary["distributed"]["median_mase"])
    assert mlflow.artifacts.load_text(f"runs:/{report.mlflow_run_id}/comparison.txt").startswith("forecaster ")
    assert "nearly_stuck" in report.sensor_table


def test_a_retry_that_loses_to_a_naive_forecast_leaves_the_champion_and_says_why(stages):
    first, retry, second = stages["distributed"], stages["retry"], stages["evaluate_retry"]
    assert retry.superseded_versions == {"deleted": [], "kept_with_alias": [first.model_version]}
    assert (retry.epochs_trained, retry.stopped_by) == (1, "max_epochs")
    summary = {row["model"]: row for row in second.comparison}
    # The champion, re-scored on the same windows, scores what it scored as the candidate.
    first_summary = {row["model"]: row for row in stages["evaluate"].comparison}
    assert summary["champion"]["median_mase"] == pytest.approx(first_summary["distributed"]["median_mase"], rel=1e-5)
    # The day's evaluation table in the lake is the retry's: both versions, per sensor.
    table = pq.read_table(second.evaluation_path).to_pandas()
    assert list(table.columns) == [*EVALUATION_COLUMNS, "unit"] and set(table.sensor_id) >= set(REAL_LOGGERS)
    assert pooled_rmse(table, "champion") == pytest.approx(first.test["test_rmse"], rel=1e-5)
    assert pooled_rmse(table, "distributed") == pytest.approx(retry.test["test_rmse"], rel=1e-5)
    # One epoch of a plain LSTM does not beat persistence: the gate refuses it, whatever the champion scores.
    assert summary["distributed"]["median_mase"] > summary["persistence"]["median_mase"]
    assert not second.champion_promoted and second.champion_version == first.model_version
    assert second.champion_decision.startswith(f"version {retry.model_version} fails the quality gate: median MASE")
    version = mlflow.MlflowClient().get_model_version(MODEL, str(retry.model_version))
    assert version.tags["champion_decision"] == second.champion_decision


def test_the_statistical_models_forecast_sampled_targets_and_evaluate_scores_every_forecaster_on_them(stages):
    report, sensors = stages["statistical"], {"s1", "s2", "s3", *REAL_LOGGERS}
    assert (report.models, report.sensors) == (["auto_ets", "auto_arima", "mstl"], 6)
    # A day of 5-minute readings: the season of 12 readings for all three, a week too long for MSTL.
    assert {model: row["sensors_fitted"] for model, row in report.fits.items()} == {
        "auto_ets": 6,
        "auto_arima": 6,
        "mstl": 6,
    }, report.fits
    assert {row["seasons"] == [12] for row in report.per_sensor} == {True}
    assert {row["seasons_left_out"]["season_2016"] for row in report.per_sensor} == {
        "188 readings of history hold fewer than 2 cycles of 2016 steps"
    }
    forecasts = pq.read_table(report.forecasts_path).to_pandas()
    # 10 targets per sensor, model and period, each after its period's first window.
    assert forecasts.groupby(["model", "period"]).size().to_dict() == {
        (model, period): 60 for model in report.models for period in ("test", "validation")
    }
    test_cut = datetime.fromisoformat(stages["prepared"].test_cut).replace(tzinfo=None)
    first_target = pd.Timestamp(test_cut + timedelta(minutes=5 * 6)).ceil("5min")  # the first on the grid
    assert forecasts[forecasts.period == "test"].target_time.min() == first_target
    # The fitted models, pickled, forecast again from the zip in the stage's MLflow run.
    archive = Path(mlflow.artifacts.download_artifacts(f"runs:/{report.mlflow_run_id}/statistical_models.zip"))
    with zipfile.ZipFile(archive) as models:
        assert {name.split("/")[0] for name in models.namelist()} == sensors
        ets = pickle.loads(models.read("s1/auto_ets.pkl"))
    assert np.isfinite(ets.predict(h=3)["mean"]).all()
    table = pq.read_table(stages["evaluate_retry"].evaluation_path).to_pandas()
    sampled = table[table.scored_on == "statistical_sample"]
    # Per sensor, every forecaster scored the same 10 sampled windows.
    assert set(sampled.windows) == {10} and set(sampled.sensor_id) == sensors
    assert set(sampled.forecaster) == {
        *("distributed", "champion", "partition_baselines", "auto_ets", "auto_arima", "mstl"),
        *("persistence", "seasonal_naive_12", "training_mean"),
    }
    summary = {row["model"]: row for row in stages["evaluate"].statistical_comparison}
    assert {summary[model]["sensors"] for model in report.models} == {5}  # nearly_stuck is apart
    assert "On the statistical models' sample of test windows:" in stages["evaluate"].statistical_comparison_table


def test_jittered_faster_and_nearly_stuck_loggers_get_windows_and_the_model_beats_their_training_mean(stages):
    prepared, lake = stages["prepared"], stages["lake"]
    sampling = {sensor: prepared.per_sensor[sensor] for sensor in REAL_LOGGERS}
    assert (sampling["jittered"]["readings_merged"], sampling["every_minute"]["readings_merged"]) == (0, 1440 - 289)
    assert sampling["nearly_stuck"]["std_floored"] is True
    # The unit the sensor catalog gives it, in prepare_sequences' and evaluate's reports.
    assert (sampling["nearly_stuck"]["unit"], stages["evaluate"].units) == ("degC", {"nearly_stuck": "degC"})
    windows = pq.read_table(lake / "sequences" / f"date={DAY}").to_pandas()
    assert {split: set(windows[windows.split == split].sensor_id) >= set(REAL_LOGGERS) for split in SPLITS} == {
        split: True for split in SPLITS
    }
    test = windows[(windows.split == "test") & windows.sensor_id.isin(REAL_LOGGERS)]
    stats = pq.read_table(lake / "sequence_stats" / f"date={DAY}").to_pandas().set_index("sensor_id")
    mean, std = stats.loc[test.sensor_id, "mean"].to_numpy(), stats.loc[test.sensor_id, "std"].to_numpy()
    x = np.stack(test.inputs.to_numpy()).astype(np.float32)[..., None]
    predicted = np.asarray(mlflow.pyfunc.load_model(stages["distributed"].model_uri).predict(x))[:, 0] * std + mean
    actual = test.target.to_numpy() * std + mean
    model_rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    training_mean_rmse = float(np.sqrt(np.mean((mean - actual) ** 2)))
    assert math.isfinite(model_rmse) and model_rmse < training_mean_rmse, (model_rmse, training_mean_rmse)


def test_evaluate_gives_every_sensor_a_method_chosen_on_validation_and_calibrated_intervals(stages):
    report = stages["evaluate_retry"]
    methods = report.sensor_methods
    assert set(methods) == {"s1", "s2", "s3", *REAL_LOGGERS}
    # The champion (the first version) beats persistence on the moving sensors; the stuck one
    # keeps persistence, which forecasts it exactly.
    champion = f"model:{stages['distributed'].model_version}"
    assert {sensor: row["method"] for sensor, row in methods.items()} == {
        **dict.fromkeys(["s1", "s2", "s3", "jittered", "every_minute"], champion),
        "nearly_stuck": "persistence",
    }
    assert all(row["why"].startswith("lowest validation RMSE") for row in methods.values())
    # A day at 5 minutes leaves 18 calibration windows per sensor: each borrows the pool.
    assert {row["calibration_windows"] for row in methods.values()} == {18}
    assert all(row["calibrated_on"].startswith("the pool of") for row in methods.values())
    coverage = report.interval_coverage
    assert set(coverage["sensors"]) == set(methods) and coverage["overall"]["windows"] > 0
    assert (report.forecaster_status, report.methods) == ("lstm_and_naive", {champion: 5, "persistence": 1})
    version = mlflow.MlflowClient().get_model_version(f"{MODEL}_forecaster", str(report.forecaster_version))
    assert version.tags["run_day"] == DAY and version.aliases == ["champion"]
    figure = Path(mlflow.artifacts.download_artifacts(f"runs:/{report.mlflow_run_id}/forecaster_intervals.png"))
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000


def test_the_forecast_job_and_mlflow_models_serve_give_the_same_forecasts_from_raw_readings(stages, tmp_path):
    report, lake = stages["forecast"], stages["lake"]
    assert report.sensors_forecast == 6 and report.forecasts == 6 * report.steps
    forecasts = pq.read_table(report.forecasts_path).to_pandas()
    assert (forecasts.lower_95 <= forecasts.lower_80).all() and (forecasts.lower_80 <= forecasts.forecast).all()
    assert (forecasts.forecast <= forecasts.upper_80).all() and (forecasts.upper_80 <= forecasts.upper_95).all()
    readings = pq.read_table(lake / "readings").to_pandas()
    posted = [
        {
            "sensor_id": sensor,
            "timestamps": [f"{moment.isoformat()}Z" for moment in mine.timestamp],
            "readings": mine.reading.tolist(),
        }
        for sensor, mine in readings[readings.sensor_id.isin(["s1", "every_minute"])].groupby("sensor_id")
    ]
    with served(f"models:/{MODEL}_forecaster@champion", tmp_path) as url:
        body = json.dumps({"dataframe_records": posted}).encode()
        request = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
        predictions = json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]
    for served_row in predictions:
        mine = forecasts[forecasts.sensor_id == served_row["sensor_id"]].sort_values("step")
        assert served_row["method"] == mine.method.iloc[0]
        assert served_row["forecast"] == pytest.approx(mine.forecast.tolist(), rel=1e-9)
        assert served_row["upper_95"] == pytest.approx(mine.upper_95.tolist(), rel=1e-9)
    assert sorted(row["sensor_id"] for row in predictions) == ["every_minute", "s1"]


def test_without_an_lstm_the_statistical_models_compete_and_the_registered_forecaster_serves_them(stages, spark):
    lake, prepared = stages["lake"], stages["prepared"]
    args = job_args(
        "evaluate", "--lake", str(lake), "--run-date", DAY, "--model-name", "statistical-only", "--forecast-steps", "3"
    )
    build = build_forecaster(
        spark, args.lake, args, prepared, ForecastingLSTM(why_not="none, for this test"), PartitionModels()
    )
    plans = build.bundle["sensors"]
    statistical = {sensor: plan["method"] for sensor, plan in plans.items() if plan["method"] in STATISTICAL_MODELS}
    # The smooth sines are forecast better by a statistical model than by any naive forecast.
    assert {"s1", "s2", "s3"} <= set(statistical), {sensor: plan["why"] for sensor, plan in plans.items()}
    assert set(build.statistical_models) == set(statistical)
    for sensor in statistical:
        assert plans[sensor]["why"].startswith("lowest validation RMSE") and " over 10 windows" in plans[sensor]["why"]
        assert (plans[sensor]["history"], plans[sensor]["season"]) == (188, 12)
        assert build.coverage["sensors"][sensor]["windows"] > 0
    readings = pq.read_table(lake / "readings").to_pandas()
    latest = readings[readings.sensor_id.isin(["s1", "nearly_stuck"])].sort_values("timestamp")
    example = pd.DataFrame(
        [
            {
                "sensor_id": sensor,
                "timestamps": [f"{t.isoformat()}Z" for t in mine.timestamp],
                "readings": list(mine.reading),
            }
            for sensor, mine in latest.groupby("sensor_id")
        ]
    )
    expected = build.forecaster().forecast_frame(example)
    assert expected.reason.tolist() == ["", ""] and np.isfinite(np.stack(expected.forecast)).all()
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("test-training").experiment_id):
        version = register_forecaster(mlflow.MlflowClient(), build, args, example)
    loaded = mlflow.pyfunc.load_model(f"models:/statistical-only_forecaster/{version}")
    served = loaded.predict(example)
    assert served.method.tolist() == expected.method.tolist()
    assert np.stack(served.forecast) == pytest.approx(np.stack(expected.forecast), rel=1e-9)
    requirements = Path(mlflow.artifacts.download_artifacts(f"models:/statistical-only_forecaster/{version}"))
    assert "statsforecast==" in (requirements / "requirements.txt").read_text()


def test_each_sensor_s_partition_model_competes_for_it_and_the_registered_forecaster_serves_it(
    stages, spark, monkeypatch
):
    lake, prepared = stages["lake"], stages["prepared"]
    args = job_args(
        "evaluate", "--lake", str(lake), "--run-date", DAY, "--model-name", "partitions-only", "--forecast-steps", "3"
    )
    candidates = load_candidates(mlflow.MlflowClient(), stages["distributed"], stages["baseline"], "champion")
    partitions = candidates.partitions()
    assert sorted(partitions.specs) == [0, 1] and {"s1", "s2", "s3"} <= set(partitions.sensor_partition)
    no_lstm = ForecastingLSTM(why_not="none, for this test")
    # As on a run without the statistical stage: the partition models against the naive forecasts.
    monkeypatch.setattr(forecaster_bundle, "statistical_fits", lambda lake, run_date: None)
    build = build_forecaster(spark, args.lake, args, prepared, no_lstm, partitions)
    plans = build.bundle["sensors"]
    # The models trained on each partition's sines forecast them better than any naive forecast.
    for sensor in ("s1", "s2", "s3"):
        assert plans[sensor]["method"] == "partition_baselines", plans[sensor]["why"]
        assert plans[sensor]["partition"] == partitions.sensor_partition[sensor]
        assert build.coverage["sensors"][sensor]["windows"] > 0
    in_use = {plan["partition"] for plan in plans.values() if plan["method"] == "partition_baselines"}
    assert set(build.partition_specs) == in_use
    readings = pq.read_table(lake / "readings").to_pandas()
    latest = readings[readings.sensor_id.isin(["s1", "s2", "s3"])].sort_values("timestamp")
    example = pd.DataFrame(
        [
            {
                "sensor_id": sensor,
                "timestamps": [f"{t.isoformat()}Z" for t in mine.timestamp],
                "readings": list(mine.reading),
            }
            for sensor, mine in latest.groupby("sensor_id")
        ]
    )
    expected = build.forecaster().forecast_frame(example)
    assert expected.reason.tolist() == ["", "", ""]
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("test-training").experiment_id):
        version = register_forecaster(mlflow.MlflowClient(), build, args, example)
    served = mlflow.pyfunc.load_model(f"models:/partitions-only_forecaster/{version}").predict(example)
    assert served.method.tolist() == expected.method.tolist()
    assert np.stack(served.forecast) == pytest.approx(np.stack(expected.forecast), rel=1e-9)


MODELS_SERVE = [sys.executable, "-m", "mlflow", "models", "serve"]


@contextlib.contextmanager
def served(model_uri: str, folder):
    """``mlflow models serve`` on a free loopback port, in this environment; yields its URL."""
    port = free_port()
    with open(folder / "serve.log", "w") as log:
        process = subprocess.Popen(
            [*MODELS_SERVE, "-m", model_uri, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mlflow models serve did not start: {(folder / 'serve.log').read_text()}"
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
