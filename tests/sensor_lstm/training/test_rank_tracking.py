import os
import signal
import time

from sensor_lstm import tracking
from sensor_lstm.training import rank_tracking
from tests.support.mlflow_server import mlflow_server


def test_a_tracking_server_that_hangs_mid_training_costs_the_epoch_metrics_until_the_end_not_the_training(
    tmp_path, monkeypatch
):
    import mlflow

    fitted = {"train_loss": [1.0, 0.5, 0.25], "val_loss": [2.0, 1.0, 0.5], "learning_rate": [0.1, 0.1, 0.05]}
    with mlflow_server(tmp_path) as (uri, server):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        with mlflow.start_run(experiment_id=tracking.reachable_experiment("test-hang")) as run:
            epochs = rank_tracking.LogEpochs(3)
            logs = [
                {
                    "loss": fitted["train_loss"][epoch],
                    "val_loss": fitted["val_loss"][epoch],
                    "lr": fitted["learning_rate"][epoch],
                }
                for epoch in range(3)
            ]
            epochs.on_epoch_end(0, logs[0])
            os.killpg(server.pid, signal.SIGSTOP)
            started = time.monotonic()
            epochs.on_epoch_end(1, logs[1])  # times out, and training goes on
            epochs.on_epoch_end(2, logs[2])  # not even tried
            assert epochs.unlogged_from == 1 and time.monotonic() - started < 20
            os.killpg(server.pid, signal.SIGCONT)
            rank_tracking.log_epochs_late(run.info.run_id, fitted, epochs.unlogged_from)
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_loss")
        assert sorted((metric.step, metric.value) for metric in history) == [(0, 2.0), (1, 1.0), (2, 0.5)]
