"""Airflow's cluster policies for this project: Airflow imports ``airflow_local_settings`` from the
plugins folder (on its path in every Airflow process) unless one in ``$AIRFLOW_HOME/config`` comes
first.

A Spark task in a pool other than the default takes one slot per core its application may hold,
its ``spark.cores.max``. That is a template over the run's Params (``train_distributed``:
``num_proc x threads_per_rank``), and a task's ``pool_slots`` is fixed when the DAG is parsed: this
hook sets the slots of each task instance from the Params of its own run, so the pool that stands
for a cluster's cores fills exactly as the cluster does.
"""

from __future__ import annotations

import logging

import jinja2.sandbox

log = logging.getLogger(__name__)

DEFAULT_POOL = "default_pool"


def run_params(task, run_conf: dict | None) -> dict:
    """The Params a task instance runs with: the DAG's defaults, overridden by the run's conf."""
    return {**dict(task.params or {}), **(run_conf or {})}


def spark_cores(task, params: dict) -> int | None:
    """The cores the task's Spark application may hold at ``params``; None when it sets no limit."""
    cores = (getattr(task, "conf", None) or {}).get("spark.cores.max")
    if cores is None:
        return None
    return int(jinja2.sandbox.SandboxedEnvironment().from_string(str(cores)).render(params=params))


def task_instance_mutation_hook(task_instance, dag_run=None) -> None:
    task = getattr(task_instance, "task", None)
    if task is None or dag_run is None or task_instance.pool == DEFAULT_POOL:
        return
    try:
        cores = spark_cores(task, run_params(task, dag_run.conf))
    except (jinja2.TemplateError, TypeError, ValueError) as error:
        # A run's Params are checked by the form and check_params: keep the DAG's slots here.
        log.warning(
            "%s: cannot size its pool slots from spark.cores.max (%s): keeping %s",
            task_instance.task_id,
            error,
            task_instance.pool_slots,
        )
        return
    if cores is not None:
        task_instance.pool_slots = max(1, cores)
