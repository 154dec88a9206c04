"""The driver side of train_distributed's hand-over to its Horovod ranks: what each rank is told,
built on the Spark driver and pickled to the executors (the entry point is rank_entry.py).

Nothing here imports TensorFlow, so the driver never loads it (seconds of start-up and hundreds
of MB it has no use for).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sensor_lstm.lake import Lake
from sensor_lstm.settings import ModelConfig

TRAINED_FILE = "trained.json"  # rank 0 writes it beside the fit's weights, last: its presence says they are whole


@dataclass(frozen=True)
class RankSpec:
    """Everything a rank needs; pickled to the executors."""

    lake: Lake  # the ranks read and write through its Arrow file system
    sequences: str  # the run day's sequences folder, holding split=*/
    stats: str  # the run day's sequence_stats folder
    model: ModelConfig  # its batch size is the largest per rank, its learning rate one rank's
    ranks: int  # how many run (sensor_lstm.training.rank_count)
    ranks_reason: str  # why that many: the report and the MLflow run say it
    threads_per_rank: int
    bind_cores: bool  # pin each rank to its own cores (ranks on one host, by local rank)
    experiment_id: str
    run_name: str
    model_name: str  # the registered model that gets a new version
    windows_input: dict  # the windows as MLflow's training input: tracking.log_windows_input's arguments
    trained: str  # where rank 0 keeps the fit's weights and history until the model is registered
    resume: bool  # load them from ``trained`` instead of training (a retry after the fit was done)
    tags: dict = field(default_factory=dict)  # of the run and of the model version
    parent_run_id: str | None = None  # the run of the Airflow DAG run, which rank 0's run nests under
    plot_sensors: int = 3
