"""The executor side of train_distributed: what each Horovod rank runs, in its own process on a
Spark executor. It loads TensorFlow; the driver never imports it (sensor_lstm/training/rank_spec.py is what
the driver hands over).

``train(spec)`` is what every rank runs (shipped as sensor_lstm.training.rank_entry.train, which imports this
module in the rank):
  * each rank reads its share of the windows (sensor_lstm/training/shards.py); it scores its test share and
    the error sums are added up with allreduce;
  * Adam's learning rate is scaled by the global batch over the batch one process would take
    on the same windows (n where every rank takes the largest batch, 1 where small data shrinks
    each rank's batch n-fold), Horovod's DistributedOptimizer averages the gradients (all in one
    grouped allreduce per step), and rank 0's initial weights are broadcast;
  * with ``bind_cores``, each rank pins its threads to its own cores (by local rank);
  * each rank's batch is the largest batch, or smaller where an epoch would take fewer than
    the schedule's minimum steps (the shards are equal, so every rank picks the same);
  * the fit follows sensor_lstm/training/fit.py: after every epoch the training and validation
    losses are averaged over the ranks, weighted by their windows, so the learning-rate
    reduction and early stopping see the same value everywhere; the ranks agree on stopping
    (patience, or the time budget on any rank's clock) through an allreduce, and each ends
    with the weights of the best epoch, the same on every rank (the driver checks digests);
  * a non-finite loss (sensor_lstm/training/fit.py) stops every rank in the same epoch; each returns
    ``diverged`` with the message, which the driver fails the job with, and no model is logged;
  * once the fit is over, rank 0 keeps the best weights and the fit's history in the lake
    (``spec.trained``) before it logs anything to MLflow; with ``spec.resume`` every rank loads
    them instead of training, so a tracking server that fails at the end costs a retry the
    logging only, never the training;
  * rank 0 alone writes to MLflow (sensor_lstm/training/rank_tracking.py).

Lines that are there for Horovod are marked ``# Horovod:``, as in Horovod's own examples.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Sequence
from contextlib import nullcontext

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import horovod.tensorflow as hvd_tf
import horovod.tensorflow.keras as hvd
import numpy as np
import pyarrow.fs as pafs
import tensorflow as tf
import tf_keras as keras

from sensor_lstm import scoring
from sensor_lstm.training import fit
from sensor_lstm.training import model as lstm
from sensor_lstm.training.forecast_plot import original_units
from sensor_lstm.training.rank_spec import TRAINED_FILE, RankSpec
from sensor_lstm.training.rank_tracking import (
    CHECKPOINT_FILE,
    LogEpochs,
    end_interrupted_run,
    log_results,
    tracked_run,
)
from sensor_lstm.training.shards import Windows, read_shard, read_statistics, with_statistics

log = logging.getLogger("train_distributed")


def scores_on_test_windows(summed: np.ndarray) -> dict[str, float]:
    """The test metrics from the ranks' summed model and persistence errors (3 sums each)."""
    model, persistence = scoring.scores_from_sums(summed[:3]), scoring.scores_from_sums(summed[3:])
    return {
        **{f"test_{name}": value for name, value in model.items()},
        **{f"test_persistence_{name}": value for name, value in persistence.items() if name != "windows"},
    }


def allreduce_sum(values: Sequence[float], name: str) -> np.ndarray:
    # Horovod: one sum over the ranks, the same on every rank.
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
        totals = allreduce_sum(weighted, name=f"average_losses_{epoch}")  # Horovod: over the ranks
        for index, name in enumerate(names):
            logs[name] = totals[index] / totals[len(names) + index]


def windows_per_second(windows_per_epoch: int, epoch_seconds: list[float]) -> float:
    """Training throughput; the first epoch, which also traces the graph, counts only when alone."""
    steady = epoch_seconds[1:] or epoch_seconds
    return windows_per_epoch / float(np.median(steady))


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def distributed_optimizer(optimizer):
    """Horovod's optimizer with every gradient in one grouped allreduce: one negotiation per
    step instead of one per weight tensor, which is most of the cost for a model this small."""
    return hvd.DistributedOptimizer(optimizer, num_groups=1)  # Horovod: averaged gradients


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
    hvd.init()  # Horovod: join the other ranks (gloo)
    rank, size = hvd.rank(), hvd.size()  # Horovod: this rank's place among them
    lstm.limit_tensorflow_threads(spec.threads_per_rank)
    if spec.bind_cores:
        bind_to_own_cores(hvd.local_rank(), spec.threads_per_rank)  # Horovod: ranks on one host by local rank

    filesystem = spec.lake.arrow_filesystem
    stats = read_statistics(filesystem, spec.stats)
    shards = {
        split: with_statistics(
            read_shard(filesystem, f"{spec.sequences}/split={split}", rank, size, equal=split == "train"),
            stats,
            spec.model.seq_len,
        )
        for split in ("train", "validation", "test")
    }
    train_set, validation, test = shards["train"], shards["validation"], shards["test"]
    if len(train_set) == 0 or len(validation) == 0:
        raise ValueError(
            f"rank {rank} of {size} got {len(train_set)} training and {len(validation)} validation windows: "
            "too few windows for this many ranks"
        )

    global_train_windows = int(allreduce_sum([len(train_set)], name="train_windows")[0])  # Horovod: all ranks' windows
    batch_size = lstm.batch_size_for(len(train_set), spec.model.batch_size, spec.model.schedule.min_steps_per_epoch)
    # Horovod: the learning rate grows with the global batch, against what one process would take.
    one_process_batch = lstm.batch_size_for(
        global_train_windows, spec.model.batch_size, spec.model.schedule.min_steps_per_epoch
    )
    learning_rate = lstm.scaled_learning_rate(spec.model.learning_rate, batch_size * size, one_process_batch)
    model = lstm.build_lstm(
        spec.model.seq_len,
        spec.model.lstm_units,
        learning_rate,
        learns_change=spec.model.lstm_learns_change,
        wrap_optimizer=distributed_optimizer,
    )

    result = {"rank": rank, "size": size, "train_windows": len(train_set), "effective_learning_rate": learning_rate}
    try:
        with tracked_run(spec) if rank == 0 else nullcontext() as run:
            if spec.resume:
                fitted = load_trained(filesystem, spec.trained, model)
                if run is not None:
                    end_interrupted_run(spec.experiment_id, fitted["mlflow_run_id"])
                # The new run gets every epoch's metrics, at the end.
                fitted |= {"unlogged_from": 0, "resumed_from_run": fitted.pop("mlflow_run_id")}
            else:
                fitted = fit_or_tag_divergence(model, train_set, validation, batch_size, spec, rank)
                if run is not None:
                    save_trained(filesystem, spec.trained, model, fitted, run.info.run_id)
            result = score_and_log(spec, model, result, fitted, test, global_train_windows, run)
    except fit.TrainingDiverged as error:
        # The ranks agree on the stop, so every rank ends here in the same epoch: the driver
        # fails the job in one line, and rank 0's MLflow run ends FAILED, with no model.
        return {**result, "diverged": str(error)}
    return result


def fit_or_tag_divergence(model, train_set: Windows, validation: Windows, batch_size: int, spec: RankSpec, rank: int):
    """fit.fit with Horovod's callbacks; rank 0 tags a diverged run. The result says from which
    epoch on MLflow did not take the epoch metrics (``unlogged_from``, rank 0; None: every one)."""
    epoch_logger = LogEpochs(spec.model.schedule.epochs) if rank == 0 else None
    try:
        return fit.fit(
            model,
            train_set.fit_arrays(spec.model.lstm_learns_change),
            validation.fit_arrays(spec.model.lstm_learns_change),
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
    except fit.TrainingDiverged:
        if rank == 0:
            import mlflow

            mlflow.set_tag("stopped_by", fit.DIVERGED)
        raise


def save_trained(filesystem: pafs.FileSystem, directory: str, model, fitted: dict, run_id: str) -> None:
    """The best weights and the fit's history (fit.fit's result) under ``directory``, a lake
    folder that may already hold an earlier try's: the history goes last, through a rename."""
    root = directory
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


def load_trained(filesystem: pafs.FileSystem, directory: str, model) -> dict:
    """Set ``model``'s weights from save_trained's folder; returns the history saved with them."""
    root = directory
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


def score_and_log(
    spec: RankSpec, model, result: dict, fitted: dict, test: Windows, global_train_windows: int, run
) -> dict:
    """Score the test shard (the error sums added up over the ranks); rank 0 logs everything."""
    predicted = original_units(test, model.predict(test.x, verbose=0)[:, 0]) if len(test) else np.zeros(0)
    persistence = original_units(test, scoring.persistence_forecast(test.x))
    actual = original_units(test, test.y)
    summed = allreduce_sum(
        np.concatenate([scoring.error_sums(predicted, actual), scoring.error_sums(persistence, actual)]),
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
