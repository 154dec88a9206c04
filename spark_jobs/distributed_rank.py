"""What each Horovod rank of train_distributed runs, in its own process on a Spark executor.

``train(spec)`` is what every rank runs (shipped as spark_jobs.ranks.train, which imports this
module in the rank, so the driver never loads TensorFlow):
  * rank r of n reads rows [r * m, (r + 1) * m) of the training windows, m = total // n, from
    the Parquet row groups that hold them: no rank loads the whole set, and every rank takes the
    same number of steps per epoch (the last total % n windows are left out, and counted);
  * validation and test windows are shared out the same way, without the equal-size rule; each
    rank scores its share and the error sums are added up with allreduce;
  * Adam's learning rate is scaled by the global batch over the batch one process would take
    on the same windows (n where every rank takes the largest batch, 1 where small data shrinks
    each rank's batch n-fold), Horovod's DistributedOptimizer averages the gradients (all in one
    grouped allreduce per step), and rank 0's initial weights are broadcast;
  * with ``bind_cores``, each rank pins its threads to its own cores (by local rank);
  * each rank's batch is the largest batch, or smaller where an epoch would take fewer than
    the schedule's minimum steps (the shards are equal, so every rank picks the same);
  * the fit follows spark_jobs/training.py: after every epoch the training and validation
    losses are averaged over the ranks, weighted by their windows, so the learning-rate
    reduction and early stopping see the same value everywhere; the ranks agree on stopping
    (patience, or the time budget on any rank's clock) through an allreduce, and each ends
    with the weights of the best epoch, the same on every rank (the driver checks digests);
  * a non-finite loss (spark_jobs/training.py) stops every rank in the same epoch; each returns
    ``diverged`` with the message, which the driver fails the job with, and no model is logged;
  * once the fit is over, rank 0 keeps the best weights and the fit's history in the lake
    (``spec.trained``) before it logs anything to MLflow; with ``spec.resume`` every rank loads
    them instead of training, so a tracking server that fails at the end costs a retry the
    logging only, never the training;
  * rank 0 alone writes to MLflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import horovod.tensorflow as hvd_tf
import horovod.tensorflow.keras as hvd
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import tensorflow as tf
import tf_keras as keras

from spark_jobs import forecasting, tracking, training
from spark_jobs.ranks import TRAINED_FILE, RankSpec

log = logging.getLogger("train_distributed")

CHECKPOINT_FILE = "best.weights.h5"


@dataclass(frozen=True)
class Windows:
    x: np.ndarray  # (windows, seq_len, 1), normalized
    y: np.ndarray  # (windows,), normalized
    mean: np.ndarray  # each window's sensor statistics
    std: np.ndarray
    sensor_id: np.ndarray
    target_time: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def shard_slices(row_counts: Sequence[int], rank: int, size: int, equal: bool) -> list[tuple[int, int, int]]:
    """The (piece, first row, rows) slices of ``rank``'s share of pieces holding ``row_counts``
    rows. ``equal``: every rank gets total // size rows; otherwise the shares differ by at most 1."""
    total = sum(row_counts)
    if equal:
        start, stop = rank * (total // size), (rank + 1) * (total // size)
    else:
        start, stop = total * rank // size, total * (rank + 1) // size
    slices, offset = [], 0
    for piece, count in enumerate(row_counts):
        first, last = max(start, offset), min(stop, offset + count)
        if first < last:
            slices.append((piece, first - offset, last - first))
        offset += count
    return slices


def row_groups(directory: str) -> tuple[pafs.FileSystem, list[tuple[str, int, int]]]:
    """The Parquet row groups under ``directory`` in a fixed order, as (file, group, rows)."""
    filesystem, root = pafs.FileSystem.from_uri(directory)
    infos = filesystem.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    files = sorted(
        info.path
        for info in infos
        if info.is_file and info.path.endswith(".parquet") and not os.path.basename(info.path).startswith((".", "_"))
    )
    groups = []
    for path in files:
        with filesystem.open_input_file(path) as source:
            metadata = pq.ParquetFile(source).metadata
        groups += [(path, group, metadata.row_group(group).num_rows) for group in range(metadata.num_row_groups)]
    return filesystem, groups


def read_shard(directory: str, rank: int, size: int, equal: bool) -> pa.Table | None:
    """Only the rows of ``rank``'s share, reading only the row groups that hold them."""
    filesystem, groups = row_groups(directory)
    pieces = []
    for piece, first, rows in shard_slices([rows for _, _, rows in groups], rank, size, equal):
        path, group, _ = groups[piece]
        with filesystem.open_input_file(path) as source:
            table = pq.ParquetFile(source).read_row_group(
                group, columns=["sensor_id", "target_time", "inputs", "target"]
            )
        pieces.append(table.slice(first, rows))
    return pa.concat_tables(pieces) if pieces else None


def read_statistics(directory: str) -> pa.Table:
    filesystem, root = pafs.FileSystem.from_uri(directory)
    return pq.read_table(root, filesystem=filesystem, columns=["sensor_id", "mean", "std"])


def with_statistics(table: pa.Table | None, stats: pa.Table, seq_len: int) -> Windows:
    if table is None or table.num_rows == 0:
        empty = np.zeros(0)
        return Windows(np.zeros((0, seq_len, 1), np.float32), empty, empty, empty, empty, empty)
    x, y = forecasting.arrow_window_tensors(table)
    row = pc.index_in(table.column("sensor_id"), value_set=stats.column("sensor_id")).to_numpy(zero_copy_only=False)
    return Windows(
        x=x,
        y=y,
        mean=stats.column("mean").to_numpy()[row],
        std=stats.column("std").to_numpy()[row],
        sensor_id=table.column("sensor_id").to_numpy(zero_copy_only=False),
        target_time=table.column("target_time").to_numpy(),
    )


def scores_on_test_windows(summed: np.ndarray) -> dict[str, float]:
    """The test metrics from the ranks' summed model and persistence errors (3 sums each)."""
    model, persistence = forecasting.scores_from_sums(summed[:3]), forecasting.scores_from_sums(summed[3:])
    return {
        **{f"test_{name}": value for name, value in model.items()},
        **{f"test_persistence_{name}": value for name, value in persistence.items() if name != "windows"},
    }


def allreduce_sum(values: Sequence[float], name: str) -> np.ndarray:
    return hvd_tf.allreduce(tf.constant(values, dtype=tf.float64), op=hvd_tf.Sum, name=name).numpy()


def agree_over_ranks(flags: Sequence[bool]) -> list[bool]:
    """A stopping condition holds for every rank when it holds for any."""
    votes = allreduce_sum([float(flag) for flag in flags], name="stop_votes")
    return [bool(vote > 0) for vote in votes]


class AverageOverRanks(keras.callbacks.Callback):
    """Replaces each epoch's ``loss`` and ``val_loss`` with their window-weighted mean over the
    ranks, for the callbacks after it (early stopping, checkpoint, logging, History)."""

    def __init__(self, train_windows: int, validation_windows: int):
        super().__init__()
        self.weights = {"loss": float(train_windows), "val_loss": float(validation_windows)}

    def on_epoch_end(self, epoch, logs=None):
        names = sorted(name for name in self.weights if name in logs)
        weighted = [logs[name] * self.weights[name] for name in names] + [self.weights[name] for name in names]
        totals = allreduce_sum(weighted, name=f"average_losses_{epoch}")
        for index, name in enumerate(names):
            logs[name] = totals[index] / totals[len(names) + index]


class LogEpochs(keras.callbacks.Callback):
    """Rank 0: each epoch's averaged losses and its learning rate to MLflow and the log. When the
    tracking server fails a request (within spark_jobs/tracking.py's bounds), the training goes on
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
    """The per-epoch metrics of ``fitted`` (training.fit's result) from ``first_epoch`` on."""
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


def windows_per_second(windows_per_epoch: int, epoch_seconds: list[float]) -> float:
    """Training throughput; the first epoch, which also traces the graph, counts only when alone."""
    steady = epoch_seconds[1:] or epoch_seconds
    return windows_per_epoch / float(np.median(steady))


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def original_units(windows: Windows, normalized: np.ndarray) -> np.ndarray:
    return forecasting.to_original_units(normalized, windows.mean, windows.std)


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


def distributed_optimizer(optimizer):
    """Horovod's optimizer with every gradient in one grouped allreduce: one negotiation per
    step instead of one per weight tensor, which is most of the cost for a model this small."""
    return hvd.DistributedOptimizer(optimizer, num_groups=1)


def own_cores(local_rank: int, threads: int, available: Sequence[int]) -> list[int]:
    """The cores of the rank with this local rank: the next ``threads`` of the available ones."""
    ordered = sorted(available)
    first = local_rank * threads
    if first + threads > len(ordered):
        return []
    return ordered[first : first + threads]


def bind_to_own_cores(local_rank: int, threads: int) -> None:
    """Pin every thread of this rank (TensorFlow's, Horovod's) to its own cores, so ranks on one
    host stop preempting each other between allreduces; without enough cores, leave them be."""
    cores = own_cores(local_rank, threads, os.sched_getaffinity(0))
    if not cores:
        log.warning("local rank %d: fewer than %d free cores each, ranks not pinned", local_rank, threads)
        return
    for thread in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(thread), cores)
    log.info("local rank %d pinned to cores %s", local_rank, cores)


def train(spec: RankSpec) -> dict:
    """One rank's training; returns what the driver checks and reports."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    forecasting.limit_tensorflow_threads(spec.threads_per_rank)
    if spec.bind_cores:
        bind_to_own_cores(hvd.local_rank(), spec.threads_per_rank)

    stats = read_statistics(spec.stats)
    shards = {
        split: with_statistics(
            read_shard(f"{spec.sequences}/split={split}", rank, size, equal=split == "train"), stats, spec.model.seq_len
        )
        for split in ("train", "validation", "test")
    }
    train_set, validation, test = shards["train"], shards["validation"], shards["test"]
    if len(train_set) == 0 or len(validation) == 0:
        raise ValueError(
            f"rank {rank} of {size} got {len(train_set)} training and {len(validation)} validation windows: "
            "too few windows for this many ranks"
        )

    global_train_windows = int(allreduce_sum([len(train_set)], name="train_windows")[0])
    batch_size = forecasting.batch_size_for(
        len(train_set), spec.model.batch_size, spec.model.schedule.min_steps_per_epoch
    )
    # Horovod: the learning rate grows with the global batch, against what one process would take.
    one_process_batch = forecasting.batch_size_for(
        global_train_windows, spec.model.batch_size, spec.model.schedule.min_steps_per_epoch
    )
    learning_rate = forecasting.scaled_learning_rate(spec.model.learning_rate, batch_size * size, one_process_batch)
    model = forecasting.build_lstm(
        spec.model.seq_len, spec.model.units, learning_rate, seed=0, wrap_optimizer=distributed_optimizer
    )

    result = {"rank": rank, "size": size, "train_windows": len(train_set), "effective_learning_rate": learning_rate}
    try:
        with tracked_run(spec) if rank == 0 else nullcontext() as run:
            if spec.resume:
                fitted = load_trained(spec.trained, model)
                if run is not None:
                    end_interrupted_run(spec.experiment_id, fitted["mlflow_run_id"])
                # The new run gets every epoch's metrics, at the end.
                fitted |= {"unlogged_from": 0, "resumed_from_run": fitted.pop("mlflow_run_id")}
            else:
                fitted = fit_or_tag_divergence(model, train_set, validation, batch_size, spec, rank)
                if run is not None:
                    save_trained(spec.trained, model, fitted, run.info.run_id)
            result = score_and_log(spec, model, result, fitted, test, global_train_windows, run)
    except training.TrainingDiverged as error:
        # The ranks agree on the stop, so every rank ends here in the same epoch: the driver
        # fails the job in one line, and rank 0's MLflow run ends FAILED, with no model.
        return {**result, "diverged": str(error)}
    return result


def fit_or_tag_divergence(model, train_set: Windows, validation: Windows, batch_size: int, spec: RankSpec, rank: int):
    """training.fit with Horovod's callbacks; rank 0 tags a diverged run. The result says from which
    epoch on MLflow did not take the epoch metrics (``unlogged_from``, rank 0; None: every one)."""
    epoch_logger = LogEpochs(spec.model.schedule.max_epochs) if rank == 0 else None
    try:
        return training.fit(
            model,
            (train_set.x, train_set.y),
            (validation.x, validation.y),
            batch_size=batch_size,
            schedule=spec.model.schedule,
            # Horovod: rank 0's initial weights everywhere; the losses averaged over the ranks.
            before=[
                hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                AverageOverRanks(len(train_set), len(validation)),
            ],
            after=[epoch_logger] if epoch_logger else [],
            agree=agree_over_ranks,
        ) | {"unlogged_from": epoch_logger.unlogged_from if epoch_logger else None}
    except training.TrainingDiverged:
        if rank == 0:
            import mlflow

            mlflow.set_tag("stopped_by", training.DIVERGED)
        raise


def save_trained(directory: str, model, fitted: dict, run_id: str) -> None:
    """The best weights and the fit's history (training.fit's result) under ``directory``, a lake
    folder that may already hold an earlier try's: the history goes last, through a rename."""
    filesystem, root = pafs.FileSystem.from_uri(directory)
    filesystem.create_dir(root)
    with tempfile.TemporaryDirectory(prefix="train_distributed-") as folder:
        local = os.path.join(folder, CHECKPOINT_FILE)
        model.save_weights(local)
        pafs.copy_files(local, f"{root}/{CHECKPOINT_FILE}", destination_filesystem=filesystem)
    record = {**fitted, "weights_digest": weights_digest(model), "mlflow_run_id": run_id}
    with filesystem.open_output_stream(f"{root}/{TRAINED_FILE}.tmp") as stream:
        stream.write(json.dumps(record).encode("utf-8"))
    filesystem.move(f"{root}/{TRAINED_FILE}.tmp", f"{root}/{TRAINED_FILE}")
    log.info("trained weights kept in %s until the model is registered", directory)


def load_trained(directory: str, model) -> dict:
    """Set ``model``'s weights from save_trained's folder; returns the history saved with them."""
    filesystem, root = pafs.FileSystem.from_uri(directory)
    with filesystem.open_input_stream(f"{root}/{TRAINED_FILE}") as stream:
        record = json.loads(stream.read().decode("utf-8"))
    with tempfile.TemporaryDirectory(prefix="train_distributed-") as folder:
        local = os.path.join(folder, CHECKPOINT_FILE)
        pafs.copy_files(f"{root}/{CHECKPOINT_FILE}", local, source_filesystem=filesystem)
        model.load_weights(local)
    if weights_digest(model) != record.pop("weights_digest"):
        raise ValueError(f"the weights in {directory} are not the ones {TRAINED_FILE} was written for")
    log.info(
        "loaded the trained weights from %s (MLflow run %s): not training again", directory, record["mlflow_run_id"]
    )
    return record


def end_interrupted_run(experiment_id: str, run_id: str) -> None:
    """The run that trained the weights failed before it could end; it ends FAILED, not RUNNING."""
    import mlflow

    client = mlflow.MlflowClient()
    found = client.search_runs([experiment_id], filter_string=f"attributes.run_id = '{run_id}'")
    if found and found[0].info.status == "RUNNING":
        client.set_terminated(run_id, "FAILED")
    mlflow.set_tag("resumed_from_run", run_id)


def score_and_log(
    spec: RankSpec, model, result: dict, fitted: dict, test: Windows, global_train_windows: int, run
) -> dict:
    """Score the test shard (the error sums added up over the ranks); rank 0 logs everything."""
    predicted = original_units(test, model.predict(test.x, verbose=0)[:, 0]) if len(test) else np.zeros(0)
    persistence = original_units(test, forecasting.persistence_forecast(test.x))
    actual = original_units(test, test.y)
    summed = allreduce_sum(
        np.concatenate([forecasting.error_sums(predicted, actual), forecasting.error_sums(persistence, actual)]),
        name="test_error_sums",
    )
    scored = {
        **result,
        **fitted,
        "windows_per_second": windows_per_second(global_train_windows, fitted["epoch_seconds"]),
        "test": scores_on_test_windows(summed),
        "weights_digest": weights_digest(model),
        "logged_to_mlflow": run is not None,
        "hostname": socket.gethostname(),  # where the rank ran: one executor's machine or container
    }
    if run is not None:
        scored |= log_results(spec, model, scored, test, predicted, global_train_windows)
    return scored


def tracked_run(spec: RankSpec):
    import mlflow

    # System metrics (CPU, memory, network of rank 0's host) over the training, every 10 s by default
    # (MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL).
    parent = {tracking.PARENT_TAG: spec.parent_run_id} if spec.parent_run_id else {}
    return mlflow.start_run(
        experiment_id=spec.experiment_id, run_name=spec.run_name, tags={**spec.tags, **parent}, log_system_metrics=True
    )


def log_results(spec, model, result, test: Windows, predicted, train_windows) -> dict:
    """Rank 0, inside its MLflow run: parameters, scores, checkpoint, plot and the model."""
    import mlflow
    import mlflow.tensorflow

    size = result["size"]
    logged_spec = {
        name: value
        for name, value in asdict(spec).items()
        if name
        not in (
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
    }
    mlflow.log_params(
        {
            **logged_spec,
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
    tracking.log_windows_input(**spec.windows_input)
    if result["unlogged_from"] is not None:
        log_epochs_late(mlflow.active_run().info.run_id, result, result["unlogged_from"])
    with tempfile.TemporaryDirectory(prefix="train_distributed-") as folder:
        checkpoint = os.path.join(folder, CHECKPOINT_FILE)
        model.save_weights(checkpoint)
        mlflow.log_artifact(checkpoint, artifact_path="checkpoint")
    # The trained model's optimizer is Horovod's; the logged one must load without Horovod.
    serving = forecasting.build_lstm(spec.model.seq_len, spec.model.units, result["effective_learning_rate"])
    serving.set_weights(model.get_weights())
    example = test.x[:5] if len(test) else np.zeros((1, spec.model.seq_len, 1), np.float32)
    signature = mlflow.models.infer_signature(example, serving.predict(example, verbose=0))
    logged = mlflow.tensorflow.log_model(serving, name="model", signature=signature, input_example=example)
    run_id = mlflow.active_run().info.run_id
    data = {"sequences": spec.windows_input["sequences"], "data_digest": spec.windows_input["digest"]}
    version = mlflow.register_model(
        logged.model_uri, spec.model_name, tags={**spec.tags, "mlflow_run_id": run_id, **data}
    )
    # After the model: a figure that fails to draw must not cost the trained model.
    if len(test):
        mlflow.log_figure(forecast_plot(test, predicted, spec.plot_sensors), "forecast_vs_actual.png")
    return {"mlflow_run_id": run_id, "model_uri": logged.model_uri, "model_version": int(version.version)}
