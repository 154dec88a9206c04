"""Distributed training: one LSTM for every sensor, trained by Horovod ranks inside Spark tasks.

Example:
    spark-submit --conf spark.task.cpus=1 spark_jobs/train_distributed.py \\
        --lake var/lake --run-date 2026-11-22 --num-proc 2

Inputs:
    <lake>/sequences/date=<run-date>/split=*/   windows (normalized), from prepare_sequences
    <lake>/sequence_stats/date=<run-date>/      each sensor's training mean and std
Outputs:
    MLflow (tracking URI from MLFLOW_TRACKING_URI), one run in --experiment, written by rank 0
    alone, tagged with the --tag pairs, the run day and the code version:
      params     the arguments, ranks, effective learning rate and global batch
      metrics    train_loss and val_loss per epoch (averaged over the ranks); test_rmse,
                 test_mae, test_persistence_rmse, test_persistence_mae in original units
      artifacts  model/ (tf_keras, with a signature and an input example), checkpoint/ (the
                 best epoch's weights), forecast_vs_actual.png (a few sensors' test period)
      inputs     the run day's windows (mlflow.log_input): their path, windows per split and a
                 digest of their and the statistics' files, also in the report (data_digest)
    a new version of the registered model --model-name, tagged like the run and with the windows'
    path and digest (sequences, data_digest), so @champion leads to its training data. Once the job
    succeeds, the run day's earlier versions that hold no alias are deleted, so retries and
    reruns leave one version per run day (one that holds an alias is tagged superseded_by).
    <lake>/reports/train_distributed/date=<run-date>/report.json  run, version, scores, ranks
    <lake>/trained/train_distributed/date=<run-date>/<key>/  the fit's weights and history, from
      the end of the fit until the model is registered; <key> digests the windows' files and the
      settings that shape the fit. A retry that finds them logs and registers them without
      training again (a tracking server that failed after the fit costs the logging only).

``horovod.spark.run`` starts --num-proc ranks over gloo, one Spark task each; give each rank
whole cores with ``spark.task.cpus`` (= --threads-per-rank). How the ranks share the work is in
sensor_lstm/training/executor_rank.py. The ranks get an allow-listed environment
(sensor_lstm/training/rank_environment.py): what they need to run and reach MLflow, never the
Airflow secrets of the process that started the job.

Failures end the job in one line (``train_distributed failed: ...``, exit code 1), never a hang:
  * the tracking server is checked before anything else, so a server that is down fails the job
    in seconds, before any training (sensor_lstm/tracking.py bounds MLflow's requests);
  * a loss that turns NaN or infinite stops every rank in the same epoch and names itself;
  * a rank that dies fails the others at their next allreduce; a rank that is stopped (SIGSTOP)
    or frozen does too, after gloo's timeout (HOROVOD_GLOO_TIMEOUT_SECONDS, 30 s by default);
    since horovod.spark.run waits for every rank, the driver cancels the ranks when some have
    finished and the others still run --stall-timeout-seconds later;
  * a rank alive but stuck short of an allreduce holds the others there, and Horovod's stall
    shutdown does not end it under gloo (HOROVOD_STALL_SHUTDOWN_TIME_SECONDS: measured with
    Horovod 0.28.1, neither its warning nor its shutdown came), so the driver also cancels ranks
    still running --start-timeout + --training-budget-minutes + --stall-timeout-seconds after
    they were started: the fit stops itself at its budget, the rest is scoring and logging.
"""

from sensor_lstm.job import run_job
from sensor_lstm.names import TRAIN_DISTRIBUTED
from sensor_lstm.settings import job_parser
from sensor_lstm.training.distributed import train_distributed


def main(argv: list[str] | None = None) -> None:
    run_job(TRAIN_DISTRIBUTED, train_distributed, job_parser(TRAIN_DISTRIBUTED, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
