"""Sequence preparation: readings of a lookback window -> normalized LSTM training windows.

Example:
    spark-submit spark_jobs/prepare_sequences.py --lake var/lake --run-date 2026-11-25 \\
        --lookback-days 3 --sampling-interval-seconds 60 --seq-len 24 --horizon 1

Inputs:
    <lake>/readings/date=<day>/ for the ``lookback-days`` days ending with ``run-date``.
Outputs (the run date's partition replaced atomically):
    <lake>/sequences/date=<run-date>/split=<train|validation|test>/part-<n>.parquet
        sensor_id, window_start, last_input_time, target_time (UTC timestamps),
        inputs array<float> (seq_len normalized readings), target float (normalized)
    <lake>/sequence_stats/date=<run-date>/
        sensor_id, mean, std, train_readings: per-sensor statistics of the training period,
        to turn normalized values back into original units: reading = value * std + mean
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  windows per split, cuts

How windows are made, per sensor in time order:
  * a new segment starts wherever two consecutive readings are more than the sampling interval
    apart; no window crosses a segment boundary;
  * a window is ``seq_len`` consecutive readings; its target is the reading ``horizon`` steps
    after the window's last input, in the same segment (never one of the inputs);
  * the lookback period (its whole UTC days) is cut at two instants, at the train and the
    train + validation fractions of its span, into train, validation and test. A training
    window ends (target included) before the first cut; a validation or test window starts
    (first input included) at or after its cut. Windows that straddle a cut are dropped and
    counted, so no validation or test target falls inside the training period and none of
    their inputs were seen in training;
  * mean and standard deviation per sensor come from the training period's readings alone.

Spark shuffles the readings by sensor and sorts them by time; each task then cuts and writes its
windows with sensor_lstm/windows/cutter.py.
"""

from sensor_lstm.job import run_job
from sensor_lstm.names import PREPARE_SEQUENCES
from sensor_lstm.settings import job_parser
from sensor_lstm.windows.prepare import prepare_sequences


def main(argv: list[str] | None = None) -> None:
    run_job(PREPARE_SEQUENCES, prepare_sequences, job_parser(PREPARE_SEQUENCES, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
