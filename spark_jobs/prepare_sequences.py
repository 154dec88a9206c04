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

Spark shuffles the readings by sensor and sorts them by time; each task then streams its sorted
rows as Arrow batches (``mapInArrow``) through vectorized NumPy that cuts the windows, carrying
only the last ``seq_len + horizon - 1`` rows from one batch to the next, and writes them with
Arrow's Parquet writer. Memory never holds a sensor's whole history, and no Python runs per row.
A retried task rewrites the same file names, so retries never duplicate windows.
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from datetime import date, datetime, timedelta
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from numpy.lib.stride_tricks import sliding_window_view
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import forecasting, lake

log = logging.getLogger("prepare_sequences")

SPLITS = ("train", "validation", "test")
STRADDLING = "straddling"  # windows across a split cut: counted, never written
ONE_DAY = "day"  # the default season: one day, in readings at the sampling interval
UTC_MICROS = pa.timestamp("us", tz="UTC")


def split_cuts(start: datetime, end: datetime, train_fraction: float, validation_fraction: float) -> tuple:
    """The two instants that cut the period ``[start, end)`` into train, validation and test."""
    if not (0 < train_fraction and 0 < validation_fraction and train_fraction + validation_fraction < 1):
        raise lake.JobInputError(
            f"need 0 < train ({train_fraction}), 0 < validation ({validation_fraction}) and train + validation < 1"
        )
    span = end - start
    return start + span * train_fraction, start + span * (train_fraction + validation_fraction)


def training_statistics(readings: DataFrame, train_cut: datetime) -> DataFrame:
    """Per sensor: mean and population standard deviation of its readings before the train cut,
    and how many there were. A sensor without training readings gets nulls and a count of 0;
    one whose training readings are all equal gets std 1.0, so normalizing only centres it.
    ``non_finite_readings`` counts NaN and infinite readings over the whole lookback (ingest
    quarantines them; readings written by other tools may hold some).
    """
    training_reading = F.when(F.col("timestamp") < F.lit(train_cut), F.col("reading"))
    non_finite = F.isnan("reading") | (F.abs("reading") == float("inf"))
    stats = readings.groupBy("sensor_id").agg(
        F.mean(training_reading).alias("mean"),
        F.stddev_pop(training_reading).alias("std"),
        F.count(training_reading).alias("train_readings"),
        F.count(F.when(non_finite, 1)).alias("non_finite_readings"),
    )
    return stats.withColumn("std", F.when(F.col("std") > 0, F.col("std")).when(F.col("std") == 0, F.lit(1.0)))


def normalize(readings: DataFrame, stats: DataFrame) -> DataFrame:
    """Add ``value``, the reading in training standard units; sensors without statistics drop out."""
    usable = stats.where(F.col("train_readings") > 0).select("sensor_id", "mean", "std")
    return readings.join(F.broadcast(usable), "sensor_id").withColumn(
        "value", ((F.col("reading") - F.col("mean")) / F.col("std")).cast("float")
    )


def micros(moment: datetime) -> int:
    return int(pa.scalar(moment, type=UTC_MICROS).value)


def seasonal_lag(season: int, horizon: int) -> int:
    """Readings back from a target to its seasonal naive forecast: one season, or as many whole
    seasons as it takes to reach a reading known when the forecast is made (at the last input)."""
    return season * -(-horizon // season)


class WindowCutter:
    """Cuts windows from a stream of Arrow batches sorted by (sensor_id, timestamp).

    Each batch holds ``sensor_id``, ``timestamp`` (UTC) and ``value``. A window may start in one
    batch and end in the next, so the last ``seq_len + horizon - 1`` rows of each batch are
    carried into the next one; rows that start no complete window are never emitted.

    Each window also gets its seasonal naive forecasts, one per season in ``seasonal_periods``:
    the sensor's reading ``seasonal_lag`` sampling intervals before the target time, exactly,
    whether inside the window or before it; null where there is no such reading. For those, the
    last sensor's rows of the last season are carried into the next batch as well.
    """

    def __init__(self, *, seq_len: int, horizon: int, sampling_interval_seconds: int, train_cut, test_cut,
                 seasonal_periods: tuple[int, ...] = ()):  # fmt: skip
        if seq_len < 1 or horizon < 1:
            raise lake.JobInputError(f"seq_len ({seq_len}) and horizon ({horizon}) must be at least 1")
        self.seq_len = seq_len
        self.span = seq_len - 1 + horizon  # from a window's first input to its target
        self.interval_us = sampling_interval_seconds * 1_000_000
        self.train_cut, self.test_cut = micros(train_cut), micros(test_cut)
        self.seasonal_lags_us = [seasonal_lag(season, horizon) * self.interval_us for season in seasonal_periods]

    def windows(self, batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, pa.Table]]:
        """Yield (split, windows) pairs; split may be ``straddling``."""
        carried, first_start = None, 0
        for batch in batches:
            rows = pa.Table.from_batches([batch]).select(["sensor_id", "timestamp", "value"])
            if carried is not None:
                rows = pa.concat_tables([carried, rows])
            if rows.num_rows > self.span:
                yield from self._cut(rows, first_start)
            carry_from = self._carry_from(rows)
            carried = rows.slice(carry_from)
            # Windows starting before the last span's rows were cut already (if there were any).
            first_start = max(0, rows.num_rows - self.span) - carry_from

    def _carry_from(self, rows: pa.Table) -> int:
        """The first row the next batch needs: the last span's, and the last season's of the last sensor."""
        span_start = max(0, rows.num_rows - self.span)
        if not self.seasonal_lags_us:
            return span_start
        sensors = rows.column("sensor_id").to_numpy(zero_copy_only=False)
        times = rows.column("timestamp").cast(pa.int64()).to_numpy()
        other_sensors = np.flatnonzero(sensors != sensors[-1])
        last_sensor_start = other_sensors[-1] + 1 if len(other_sensors) else 0
        last_season = np.searchsorted(times[last_sensor_start:], times[-1] - max(self.seasonal_lags_us))
        return min(span_start, int(last_sensor_start + last_season))

    def _seasonal_naive(self, sensors, times, values, targets) -> tuple[np.ndarray, np.ndarray]:
        """Each target's reading each seasonal lag earlier, and whether it exists: (targets, lags)."""
        forecasts = np.zeros((len(targets), len(self.seasonal_lags_us)), dtype=np.float32)
        found = np.zeros(forecasts.shape, dtype=bool)
        run_starts = np.flatnonzero(np.concatenate([[True], sensors[1:] != sensors[:-1]]))
        run_ends = np.append(run_starts[1:], len(sensors))
        for start, end in zip(run_starts, run_ends):
            mine = slice(np.searchsorted(targets, start), np.searchsorted(targets, end))
            for lag, lag_us in enumerate(self.seasonal_lags_us):
                wanted = times[targets[mine]] - lag_us
                at = start + np.searchsorted(times[start:end], wanted)
                exists = (at < end) & (times[np.minimum(at, end - 1)] == wanted)
                forecasts[mine, lag] = np.where(exists, values[np.minimum(at, end - 1)], 0.0)
                found[mine, lag] = exists
        return forecasts, found

    def _cut(self, rows: pa.Table, first_start: int) -> Iterator[tuple[str, pa.Table]]:
        sensors = rows.column("sensor_id").to_numpy(zero_copy_only=False)
        times = rows.column("timestamp").cast(pa.int64()).to_numpy()
        values = rows.column("value").to_numpy().astype(np.float32, copy=False)
        if not np.isfinite(values).all():
            # Finite readings whose normalized value overflows float32: a sensor almost constant in
            # training that later moves by orders of magnitude. No window may carry it to a model.
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(f"sensor {sensors[bad]}: the normalized reading at {rows.column('timestamp')[bad]} "
                             "is not a finite float32; check the sensor's readings")  # fmt: skip
        # segment[i]: how many segment starts up to row i. A window starting at row s is whole
        # when no segment starts in (s, s + span]; the first row always counts as a start, so
        # windows starting at a carried row are judged only by the rows after it.
        starts_segment = np.ones(len(times), dtype=bool)
        starts_segment[1:] = (sensors[1:] != sensors[:-1]) | (np.diff(times) > self.interval_us)
        segment = np.cumsum(starts_segment)
        first = np.arange(first_start, len(times) - self.span)
        first = first[segment[first + self.span] == segment[first]]
        window_start, target_time = times[first], times[first + self.span]
        split = np.full(len(first), STRADDLING, dtype=object)
        split[target_time < self.train_cut] = "train"
        split[(window_start >= self.train_cut) & (target_time < self.test_cut)] = "validation"
        split[window_start >= self.test_cut] = "test"
        inputs = sliding_window_view(values, self.seq_len)[first]
        seasonal, found = self._seasonal_naive(sensors, times, values, first + self.span)
        table = pa.table(
            {
                "sensor_id": rows.column("sensor_id").take(pa.array(first)),
                "window_start": pa.array(window_start, UTC_MICROS),
                "last_input_time": pa.array(times[first + self.seq_len - 1], UTC_MICROS),
                "target_time": pa.array(target_time, UTC_MICROS),
                "inputs": fixed_size_lists(inputs, self.seq_len),
                "target": pa.array(values[first + self.span]),
                "seasonal_naive": fixed_size_lists(seasonal, seasonal.shape[1], missing=~found),
            }
        )
        for name in (*SPLITS, STRADDLING):
            chosen = np.flatnonzero(split == name)
            if len(chosen):
                yield name, table.take(pa.array(chosen))


def fixed_size_lists(rows: np.ndarray, width: int, missing: np.ndarray | None = None) -> pa.ListArray:
    """A list<float> column from a (rows, width) array; ``missing`` marks null elements."""
    offsets = pa.array(np.arange(len(rows) + 1, dtype=np.int32) * width)
    flat = rows.reshape(-1)
    return pa.ListArray.from_arrays(offsets, pa.array(flat, mask=None if missing is None else missing.reshape(-1)))


def write_windows(
    batches: Iterable[pa.RecordBatch], cutter: WindowCutter, output_dir: str, part_name: str
) -> dict[str, tuple[int, int]]:
    """Write one task's windows to ``output_dir/split=<split>/<part_name>``; return, per split,
    how many windows there were and how many of them lack a seasonal naive forecast.

    Each file is written under a unique temporary name and renamed into place when complete, so
    a retried or speculative attempt replaces the same file instead of adding a second one.
    """
    filesystem, root = pafs.FileSystem.from_uri(output_dir)
    writers: dict[str, tuple[pq.ParquetWriter, str, str]] = {}
    counts = {name: (0, 0) for name in (*SPLITS, STRADDLING)}
    try:
        for split, windows in cutter.windows(batches):
            total, missing = counts[split]
            counts[split] = (total + windows.num_rows, missing + int(forecasting.lacks_seasonal_naive(windows).sum()))
            if split == STRADDLING:
                continue
            if split not in writers:
                final = f"{root}/split={split}/{part_name}"
                temporary = f"{root}/split={split}/.{part_name}.{uuid.uuid4().hex}.tmp"
                filesystem.create_dir(f"{root}/split={split}", recursive=True)
                # Dictionaries for the sensor names only: Spark's vectorized reader fails on a
                # dictionary-encoded float list whose elements are all null (no seasonal
                # forecast in the whole file), and float dictionaries save nothing here.
                writer = pq.ParquetWriter(temporary, windows.schema, filesystem=filesystem, use_dictionary=["sensor_id"])
                writers[split] = (writer, temporary, final)
            writers[split][0].write_table(windows)
    finally:
        for writer, _, _ in writers.values():
            writer.close()
    for _, temporary, final in writers.values():
        filesystem.move(temporary, final)
    return counts


def write_partition_windows(cutter: WindowCutter, output_dir: str):
    """The ``mapInArrow`` function: cuts and writes a task's windows, returns their counts."""

    def run_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        part_name = f"part-{TaskContext.get().partitionId():05d}.parquet"
        counts = write_windows(batches, cutter, output_dir, part_name)
        yield pa.RecordBatch.from_pydict(
            {
                "split": list(counts),
                "windows": [total for total, _ in counts.values()],
                "without_seasonal_naive": [missing for _, missing in counts.values()],
            }
        )

    return run_task


def lookback_days(run_date: date, days: int) -> list[date]:
    if days < 1:
        raise lake.JobInputError(f"lookback-days must be at least 1, got {days}")
    return [run_date - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def read_lookback(
    spark: SparkSession, lake_fs: lake.LakeFileSystem, readings_path: str, days: list[date]
) -> tuple[DataFrame, list[date]]:
    """The lookback's readings, and the days among them that have no readings partition."""
    missing = [day for day in days if not lake_fs.exists(f"{readings_path}/{lake.partition_dir(day)}")]
    if len(missing) == len(days):
        raise lake.JobInputError(f"no readings in {readings_path} for {days[0]} to {days[-1]}: run ingest first")
    present = [f"{readings_path}/{lake.partition_dir(day)}" for day in days if day not in missing]
    # A given schema spares a pass over every file's footer to infer one.
    return spark.read.schema(lake.READINGS_SCHEMA).option("basePath", readings_path).parquet(*present), missing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build normalized LSTM windows from ingested readings.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--lake", required=True, help="root of the data lake (folder or URI)")
    parser.add_argument("--run-date", type=date.fromisoformat, required=True, help="last day of the lookback")
    parser.add_argument("--lookback-days", type=int, default=3)
    parser.add_argument("--sampling-interval-seconds", type=int, default=60)
    parser.add_argument("--seq-len", type=int, default=24, help="inputs per window")
    parser.add_argument("--horizon", type=int, default=1, help="steps from the last input to the target")
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument(
        "--seasonal-periods",
        type=parse_seasonal_periods,
        default=ONE_DAY,
        help="seasons of the seasonal naive forecasts, in readings, comma-separated; "
        f"'{ONE_DAY}': one day at the sampling interval; 'none': no seasonal naive forecast",
    )
    return parser.parse_args(argv)


def parse_seasonal_periods(text: str) -> str | tuple[int, ...]:
    if text in (ONE_DAY, "none"):
        return ONE_DAY if text == ONE_DAY else ()
    try:
        periods = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seasonal periods are '{ONE_DAY}', 'none' or integers like 24,168, got {text!r}")
    if any(period < 1 for period in periods):
        raise argparse.ArgumentTypeError(f"seasonal periods must be at least 1 reading, got {text!r}")
    return periods


def seasonal_periods(requested: str | tuple[int, ...], sampling_interval_seconds: int) -> tuple[int, ...]:
    """The seasons in readings; ``ONE_DAY`` needs an interval that divides a day."""
    if requested != ONE_DAY:
        return requested
    if lake.SECONDS_PER_DAY % sampling_interval_seconds:
        raise lake.JobInputError(
            f"a sampling interval of {sampling_interval_seconds} s does not divide a day: set --seasonal-periods"
        )
    return (lake.SECONDS_PER_DAY // sampling_interval_seconds,)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    if args.sampling_interval_seconds < 1:
        raise lake.JobInputError(
            f"sampling-interval-seconds must be at least 1, got {args.sampling_interval_seconds}"
        )
    lake_fs = lake.LakeFileSystem(spark, args.lake)
    days = lookback_days(args.run_date, args.lookback_days)
    # Spark reads lazily, up to the last write: the lookback's readings are held until then.
    with lake.readings_locked(lake_fs, args.lake, days):
        return cut_windows(spark, args, lake_fs, days)


def cut_windows(spark: SparkSession, args: argparse.Namespace, lake_fs: lake.LakeFileSystem, days: list[date]) -> dict:
    """The run's windows and statistics from the readings of ``days``, swapped in; its report."""
    run_day = lake.partition_dir(args.run_date)
    sequences = lake.dataset_path(args.lake, "sequences")
    stats_dataset = lake.dataset_path(args.lake, "sequence_stats")
    for dataset in (sequences, stats_dataset):
        lake.restore_interrupted_swaps(lake_fs, dataset, [run_day])
    readings, missing_days = read_lookback(spark, lake_fs, lake.dataset_path(args.lake, "readings"), days)
    if missing_days:
        log.warning("the lookback misses %d of %d days, which have no readings: %s; windows come from the others",
                    len(missing_days), len(days), ", ".join(day.isoformat() for day in missing_days))  # fmt: skip
    period_start, period_end = lake.utc_day_start(days[0]), lake.utc_day_start(days[-1] + timedelta(days=1))
    train_cut, test_cut = split_cuts(period_start, period_end, args.train_fraction, args.validation_fraction)
    seasons = seasonal_periods(args.seasonal_periods, args.sampling_interval_seconds)
    cutter = WindowCutter(
        seq_len=args.seq_len,
        horizon=args.horizon,
        sampling_interval_seconds=args.sampling_interval_seconds,
        train_cut=train_cut,
        test_cut=test_cut,
        seasonal_periods=seasons,
    )

    stats = training_statistics(readings, train_cut).persist()
    per_sensor = stats.select("sensor_id", "train_readings", "non_finite_readings").collect()
    non_finite = {row["sensor_id"]: row["non_finite_readings"] for row in per_sensor if row["non_finite_readings"]}
    if non_finite:
        stats.unpersist()
        raise lake.JobInputError(
            f"readings hold NaN or infinite values ({sum(non_finite.values())} of sensors {sorted(non_finite)[:5]}); "
            "re-run ingest for the lookback days, which quarantines them"
        )
    sensors_without_stats = sorted(row["sensor_id"] for row in per_sensor if row["train_readings"] == 0)
    if sensors_without_stats:
        log.warning(
            "%d sensors have no reading in the training period and get no windows: %s",
            len(sensors_without_stats),
            sensors_without_stats,
        )

    run_key = args.run_date.isoformat()
    for dataset in (sequences, stats_dataset):
        lake.clear_stale_staging(lake_fs, dataset, run_key)
    staged_sequences = lake.new_staging_path(sequences, run_key)
    staged_stats = lake.new_staging_path(stats_dataset, run_key)

    sorted_values = (
        normalize(readings, stats)
        .select("sensor_id", "timestamp", "value")
        .repartition("sensor_id")
        .sortWithinPartitions("sensor_id", "timestamp")
    )
    # The tasks write with Arrow's file systems, which need an absolute path or a URI.
    output_dir = staged_sequences if "://" in staged_sequences else os.path.abspath(staged_sequences)
    task_counts = sorted_values.mapInArrow(
        write_partition_windows(cutter, f"{output_dir}/{run_day}"),
        "split string, windows long, without_seasonal_naive long",
    )
    counts = {name: 0 for name in (*SPLITS, STRADDLING)}
    without_seasonal = {name: 0 for name in SPLITS}
    totals = task_counts.groupBy("split").agg(*(F.sum(name).alias(name) for name in ("windows", "without_seasonal_naive")))
    for row in totals.collect():
        counts[row["split"]] = row["windows"]
        if row["split"] in without_seasonal:
            without_seasonal[row["split"]] = row["without_seasonal_naive"]
    # A task attempt that died mid-write (a lost executor or Python worker) leaves its temporary
    # file; the attempt that replaced it wrote the same final name.
    for leftover in lake_fs.glob(f"{staged_sequences}/{run_day}/split=*/.part-*.tmp"):
        log.info("removing the temporary file of a failed task attempt: %s", leftover)
        lake_fs.delete(leftover)
    stats.where(F.col("train_readings") > 0).drop("non_finite_readings").withColumn(
        "date", F.lit(args.run_date)
    ).coalesce(1).write.partitionBy("date").parquet(staged_stats)
    stats.unpersist()
    if counts["train"] == 0:
        lake_fs.delete(staged_sequences)
        lake_fs.delete(staged_stats)
        raise lake.JobInputError(
            f"no training window: too little data for seq_len {args.seq_len} and horizon {args.horizon}"
        )

    lake.swap_in_partitions(lake_fs, staged_sequences, sequences, [run_day])
    lake.swap_in_partitions(lake_fs, staged_stats, stats_dataset, [run_day])
    report = {
        "run_date": args.run_date.isoformat(),
        "lookback_days": [day.isoformat() for day in days],
        "missing_lookback_days": [day.isoformat() for day in missing_days],
        "seq_len": args.seq_len,
        "horizon": args.horizon,
        "sampling_interval_seconds": args.sampling_interval_seconds,
        "train_cut": train_cut.isoformat(),
        "test_cut": test_cut.isoformat(),
        "sensors": len(per_sensor),
        "sensors_without_training_data": sensors_without_stats,
        "windows": {split: counts[split] for split in SPLITS},
        "windows_dropped_across_split_cuts": counts[STRADDLING],
        "seasonal_periods": list(seasons),
        "seasonal_lags": [seasonal_lag(season, args.horizon) for season in seasons],
        "windows_without_seasonal_naive": without_seasonal,
        "sequences_path": f"{sequences}/{run_day}",
        "stats_path": f"{stats_dataset}/{run_day}",
    }
    report_path = lake.write_report(lake_fs, args.lake, "prepare_sequences", args.run_date, report)
    log.info(
        "prepare_sequences %s: windows %s, %d dropped across split cuts; without a seasonal naive forecast "
        "(seasons %s readings): %s; report %s",
        args.run_date,
        report["windows"],
        counts[STRADDLING],
        list(seasons),
        without_seasonal,
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    lake.run_job("prepare_sequences", parse_args, run, argv)


if __name__ == "__main__":
    main()
