"""Airflow's cluster policies for this project: Airflow imports ``airflow_local_settings`` from the
plugins folder (on its path in every Airflow process) unless one in ``$AIRFLOW_HOME/config`` comes
first.

A Spark task's ``pool_slots`` is fixed when the DAG is parsed, but the cores its application may
hold are a template over the run's Params (``train_distributed``: ``num_proc x threads_per_rank``):
this hook sets each task instance's slots from the Params of its own run
(sensor_lstm.orchestration.pools), so the pool that stands for a cluster's cores fills exactly as
the cluster does.
"""

from __future__ import annotations

from sensor_lstm.orchestration.pools import size_pool_slots


def task_instance_mutation_hook(task_instance, dag_run=None) -> None:
    size_pool_slots(task_instance, dag_run)
