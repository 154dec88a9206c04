"""Rank 0's MLflow run: each epoch's metrics, then the parameters, scores, checkpoint, plot and
the registered model version. When the tracking server fails a request (within
sensor_lstm/tracking.py's bounds) during the fit, the training goes on and the epochs are logged at
the end; only a server still failing then fails the job.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import asdict

import numpy as np
import tf_keras as keras

from sensor_lstm import tracking
from sensor_lstm.training import forecast_plot
from sensor_lstm.training import model as lstm
from sensor_lstm.training.rank_spec import RankSpec
from sensor_lstm.training.shards import Windows

log = logging.getLogger("train_distributed")

CHECKPOINT_FILE = "best.weights.h5"


class LogEpochs(keras.callbacks.Callback):
    """Rank 0: each epoch's averaged losses and its learning rate to MLflow and the log. When the
    tracking server fails a request (within sensor_lstm/tracking.py's bounds), the training goes on
    without it: the epochs from that one on are logged at the end (log_epochs_late), and only a
    server still failing then fails the job."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.unlogged_from: int | None = None  # the first epoch MLflow did not take

    def on_epoch_end(self, epoch, logs=None):
        import mlflow

        log.info(
            "epoch %d/%d: train_loss %.5f, val_loss %.5f, learning rate %.2g",
            epoch + 1,
            self.epochs,
            logs["loss"],
            logs["val_loss"],
            logs["lr"],
        )
        if self.unlogged_from is not None:
            return
        try:
            mlflow.log_metrics(
                {"train_loss": logs["loss"], "val_loss": logs["val_loss"], "learning_rate": logs["lr"]}, step=epoch
            )
        except Exception as error:  # MlflowException, or requests' errors from the REST client
            self.unlogged_from = epoch
            log.warning(
                "MLflow did not take epoch %d's metrics, training goes on and logs them at the end: %s",
                epoch + 1,
                " ".join(str(error).split())[:200],
            )


def log_epochs_late(run_id: str, fitted: dict, first_epoch: int) -> None:
    """The per-epoch metrics of ``fitted`` (fit.fit's result) from ``first_epoch`` on."""
    import mlflow
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [
        Metric(name, float(fitted[key][step]), now, step)
        for step in range(first_epoch, len(fitted["val_loss"]))
        for name, key in (("train_loss", "train_loss"), ("val_loss", "val_loss"), ("learning_rate", "learning_rate"))
    ]
    client = mlflow.MlflowClient()
    for first in range(0, len(metrics), 900):  # MLflow takes at most 1000 metrics a batch
        client.log_batch(run_id, metrics=metrics[first : first + 900])


def end_interrupted_run(experiment_id: str, run_id: str) -> None:
    """The run that trained the weights failed before it could end; it ends FAILED, not RUNNING."""
    import mlflow

    client = mlflow.MlflowClient()
    found = client.search_runs([experiment_id], filter_string=f"attributes.run_id = '{run_id}'")
    if found and found[0].info.status == "RUNNING":
        client.set_terminated(run_id, "FAILED")
    mlflow.set_tag("resumed_from_run", run_id)


def tracked_run(spec: RankSpec):
    import mlflow

    # System metrics (CPU, memory, network of rank 0's host) over the training, every 10 s by default
    # (MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL).
    parent = {tracking.PARENT_TAG: spec.parent_run_id} if spec.parent_run_id else {}
    return mlflow.start_run(
        experiment_id=spec.experiment_id, run_name=spec.run_name, tags={**spec.tags, **parent}, log_system_metrics=True
    )


# RankSpec's fields that are not the fit's parameters.
NOT_PARAMS = (
    "lake",
    "tags",
    "experiment_id",
    "run_name",
    "model_name",
    "model",
    "trained",
    "resume",
    "windows_input",
    "parent_run_id",
)


def log_results(spec, model, result, test: Windows, predicted, train_windows) -> dict:
    """Rank 0, inside its MLflow run: parameters, scores, checkpoint, the model, then the plot."""
    import mlflow

    log_fit(spec, result, train_windows)
    tracking.log_windows_input(**spec.windows_input)
    if result["unlogged_from"] is not None:
        log_epochs_late(mlflow.active_run().info.run_id, result, result["unlogged_from"])
    with tempfile.TemporaryDirectory(prefix="train_distributed-") as folder:
        checkpoint = os.path.join(folder, CHECKPOINT_FILE)
        model.save_weights(checkpoint)
        mlflow.log_artifact(checkpoint, artifact_path="checkpoint")
    registered = register_model(spec, model, result["effective_learning_rate"], test)
    # After the model: a figure that fails to draw must not cost the trained model.
    if len(test):
        mlflow.log_figure(forecast_plot.forecast_plot(test, predicted, spec.plot_sensors), "forecast_vs_actual.png")
    return registered


def log_fit(spec: RankSpec, result: dict, train_windows: int) -> None:
    """The fit's parameters (the spec's and the model's settings), its scores and why it stopped."""
    import mlflow

    size = result["size"]
    mlflow.log_params(
        {
            **{name: value for name, value in asdict(spec).items() if name not in NOT_PARAMS},
            **spec.model.settings(),
            "num_proc": size,
            "effective_learning_rate": result["effective_learning_rate"],
            "batch_size_per_rank": result["batch_size"],
            "global_batch_size": result["batch_size"] * size,
            "train_windows": train_windows,
        }
    )
    mlflow.log_metrics(
        {
            **result["test"],
            "epochs_trained": result["epochs_trained"],
            "best_epoch": result["best_epoch"],
            "best_val_loss": result["best_val_loss"],
            "train_seconds": result["train_seconds"],
            "train_windows_per_second": result["windows_per_second"],
        }
    )
    mlflow.set_tag("stopped_by", result["stopped_by"])


def register_model(spec: RankSpec, model, learning_rate: float, test: Windows) -> dict:
    """Log the model without Horovod's optimizer, with a signature and an input example, and
    register it as a new version tagged with the run and the windows it was trained on."""
    import mlflow
    import mlflow.tensorflow

    serving = lstm.build_lstm(
        spec.model.seq_len, spec.model.lstm_units, learning_rate, learns_change=spec.model.lstm_learns_change
    )
    serving.set_weights(model.get_weights())
    example = test.x[:5] if len(test) else np.zeros((1, spec.model.seq_len, 1), np.float32)
    signature = mlflow.models.infer_signature(example, serving.predict(example, verbose=0))
    logged = mlflow.tensorflow.log_model(
        serving,
        name="model",
        signature=signature,
        input_example=example,
        pip_requirements=tracking.pinned_requirements(tracking.KERAS_MODEL_PACKAGES),
    )
    run_id = mlflow.active_run().info.run_id
    data = {"sequences": spec.windows_input["sequences"], "data_digest": spec.windows_input["digest"]}
    version = mlflow.register_model(
        logged.model_uri, spec.model_name, tags={**spec.tags, "mlflow_run_id": run_id, **data}
    )
    return {"mlflow_run_id": run_id, "model_uri": logged.model_uri, "model_version": int(version.version)}
