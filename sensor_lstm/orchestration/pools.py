"""Spark cores as Airflow pool slots. On a cluster of known size, the pool ``spark_cores`` stands
for its cores (both stacks create it at init, one slot per core), and each Spark task takes one
slot per core its application may hold (its ``spark.cores.max``): runs side by side queue in
Airflow instead of waiting in Spark, where Horovod's ranks, which must all start together, time
out. A task's cores are a template over the run's Params; the cluster policy
(plugins/airflow_local_settings.py) sizes each task instance's slots from its own run's.
"""

from __future__ import annotations

import logging

import jinja2.sandbox

from sensor_lstm.training.rank_count import AUTO

log = logging.getLogger(__name__)

SPARK_CORES_POOL = "spark_cores"
DEFAULT_POOL = "default_pool"
# The ranks a run reserves cores for (sensor_lstm.training.rank_count.reserved_ranks): its windows
# do not exist yet when the slots and spark.cores.max are rendered.
RESERVED_RANKS = f"(params.auto_max_ranks if params.num_proc == '{AUTO}' else params.num_proc | int)"
# Each rank is one Spark task holding whole cores.
RANK_CORES = f"{{{{ {RESERVED_RANKS} * params.threads_per_rank }}}}"


def data_job_cores(cluster_cores: int, job_cores: int) -> str | None:
    """The cores of ingest, prepare_sequences, evaluate and forecast; None (no limit) on a cluster of
    unknown size."""
    return str(min(job_cores, cluster_cores)) if cluster_cores > 0 else None


def baseline_cores(cluster_cores: int) -> str:
    """One core per partition of train_baseline, but never the ones train_distributed's ranks need
    beside it: on a standalone cluster the first application to register takes what it asks for,
    and Horovod's ranks must all start together or the attempt times out."""
    if cluster_cores <= 0:
        return "{{ params.partitions }}"
    return (
        f"{{{{ [1, [params.partitions, {cluster_cores} - {RESERVED_RANKS} * params.threads_per_rank] | min] | max }}}}"
    )


def render_cores(template: str, params: dict) -> int:
    """A cores template at ``params``; a ValueError where they render none (jinja's ``int`` makes 0
    of text that is not a number)."""
    cores = int(jinja2.sandbox.SandboxedEnvironment().from_string(str(template)).render(params=params))
    if cores < 1:
        raise ValueError(f"{template} renders {cores} cores at these Params")
    return cores


def run_params(task, run_conf: dict | None) -> dict:
    """The Params a task instance runs with: the DAG's defaults, overridden by the run's conf."""
    return {**dict(task.params or {}), **(run_conf or {})}


def size_pool_slots(task_instance, dag_run) -> None:
    """Give a Spark task instance in a pool one slot per core its application may hold at its own
    run's Params; the DAG's slots are kept for Params that do not render (the form and
    check_params refuse those)."""
    task = getattr(task_instance, "task", None)
    if task is None or dag_run is None or task_instance.pool == DEFAULT_POOL:
        return
    cores = (getattr(task, "conf", None) or {}).get("spark.cores.max")
    if cores is None:
        return
    try:
        task_instance.pool_slots = max(1, render_cores(cores, run_params(task, dag_run.conf)))
    except (jinja2.TemplateError, TypeError, ValueError) as error:
        log.warning(
            "%s: cannot size its pool slots from spark.cores.max (%s): keeping %s",
            task_instance.task_id,
            error,
            task_instance.pool_slots,
        )
