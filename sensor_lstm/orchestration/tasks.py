"""The DAG's Spark tasks: each submits ``spark_jobs/<job>.py`` for the run day, with the arguments
the settings table gives the job, the deployment's Spark conf, and its cores as pool slots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from airflow.sdk import Asset

from sensor_lstm.lake.reports import Report
from sensor_lstm.names import DAG_ID
from sensor_lstm.orchestration.deployment import Deployment
from sensor_lstm.orchestration.operators import SparkJobOperator
from sensor_lstm.orchestration.pools import SPARK_CORES_POOL, data_job_cores, render_cores
from sensor_lstm.settings import DEFAULTS, dag_arguments


@dataclass(frozen=True)
class SparkTasks:
    deployment: Deployment

    def spark_conf(self) -> dict[str, str]:
        """Every job's conf. The jobs import the sensor_lstm package: the driver and every executor
        need the project on their Python path (the same path on each machine)."""
        deployment = self.deployment
        return {
            "spark.sql.session.timeZone": "UTC",
            "spark.executorEnv.PYTHONPATH": deployment.project_dir,
            "spark.log.level": deployment.spark_log_level,
            **(
                {"spark.eventLog.enabled": "true", "spark.eventLog.dir": deployment.event_log_dir}
                if deployment.event_log_dir
                else {}
            ),
            **({"spark.sensorLstm.historyUrl": deployment.history_url} if deployment.history_url else {}),
            **(
                {"spark.driver.extraJavaOptions": deployment.driver_java_options}
                if deployment.driver_java_options
                else {}
            ),
        }

    def task(
        self,
        job: str,
        execution_timeout: timedelta,
        *,
        cores: str | None = None,
        spark_conf: dict[str, str] | None = None,
        outlet: Asset | None = None,
        report: type[Report] | None = None,
        one_run_at_a_time: bool = False,
    ) -> SparkJobOperator:
        """The task that runs ``job``. ``cores``: what its application may hold (spark.cores.max), a
        template over the Params, and its slots in the pool on a cluster of known size; by default a
        data job's share. ``outlet``: the asset it updates, whose events carry ``report``'s asset
        fields; ``one_run_at_a_time``: never two runs' instances of it at once."""
        deployment = self.deployment
        cores = cores or data_job_cores(deployment.spark_cores, deployment.data_job_cores)
        capacity = {}
        if cores is not None:
            spark_conf = {"spark.cores.max": cores} | (spark_conf or {})
            if deployment.spark_cores > 0:
                capacity = {"pool": SPARK_CORES_POOL, "pool_slots": render_cores(cores, DEFAULTS)}
        return SparkJobOperator(
            task_id=job,
            max_active_tis_per_dag=1 if one_run_at_a_time else None,
            **capacity,
            outlets=[outlet] if outlet else [],
            lake=deployment.lake,
            report=report,
            event_log_dir=deployment.event_log_dir,
            conn_id="spark_default",
            application=f"{deployment.project_dir}/spark_jobs/{job}.py",
            name=f"{DAG_ID}.{job}",
            conf=self.spark_conf() | (spark_conf or {}),
            env_vars={"PYTHONPATH": deployment.project_dir},
            application_args=dag_arguments(job, deployment.job_settings),
            execution_timeout=execution_timeout,
        )
