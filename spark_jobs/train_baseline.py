"""Per-partition baselines: one small LSTM per partition of sensors, trained inside the executors.

Example:
    spark-submit spark_jobs/train_baseline.py --lake var/lake --run-date 2026-11-22 --partitions 4

Inputs:
    <lake>/sequences/date=<run-date>/split=*/   windows (normalized), from prepare_sequences
    <lake>/sequence_stats/date=<run-date>/      each sensor's training mean and std
Outputs:
    MLflow (tracking URI from MLFLOW_TRACKING_URI), one run in --experiment, tagged with --tag
    pairs, the code version and each partition's partition_<i>.stopped_by (early_stopping,
    time_budget or max_epochs), holding:
      params     the arguments
      metrics    partition_<i>.<validation|test>_<rmse|mae> and
                 partition_<i>.<validation|test>_persistence_rmse, in original units
      artifacts  partition-<i>/ (each trained model, tf_keras, loadable with mlflow.tensorflow
                 or mlflow.pyfunc), partitions.json (the per-partition table, skipped ones with
                 their reason)
      inputs     the run day's windows (tracking.log_windows_input)
    <lake>/reports/train_baseline/date=<run-date>/report.json  the same table, the run id and the
      digest of the windows' and statistics' files (data_digest)

The windows are hash-partitioned by sensor into --partitions partitions; each partition trains on
its own sensors' training windows only, until its validation windows' loss stops improving, as
sensor_lstm/training/fit.py says (each partition's fit has the whole --training-budget-minutes; with
more partitions than cores, they queue), and is scored on their validation and test windows,
against the persistence forecast (the last input) on the same windows. A partition with fewer
than --min-train-windows training windows (an empty one included), or no validation window, is
skipped with its reason. A partition whose loss turns NaN or infinite fails the job in one line
(``train_baseline failed: partition <i> of <n>: training diverged: ...``, exit code 1), before
anything is logged; so does a tracking server that is down, checked before any training.
"""

from sensor_lstm.job import run_job
from sensor_lstm.names import TRAIN_BASELINE
from sensor_lstm.settings import job_parser
from sensor_lstm.training.baseline import train_baseline


def main(argv: list[str] | None = None) -> None:
    run_job(TRAIN_BASELINE, train_baseline, job_parser(TRAIN_BASELINE, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
