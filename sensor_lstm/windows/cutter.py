"""The window cutter: readings sorted by sensor and time -> LSTM windows, in Arrow batches.

prepare_sequences runs it inside Spark's ``mapInArrow``: each task streams its sorted rows through
vectorized NumPy that cuts the windows, carrying only the last ``seq_len + horizon - 1`` rows from
one batch to the next, and writes them with Arrow's Parquet writer. Memory never holds a sensor's
whole history, and no Python runs per row. A retried task rewrites the same file names, so retries
never duplicate windows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from numpy.lib.stride_tricks import sliding_window_view

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake
from sensor_lstm.windows import tensors

# In time order. Calibration windows are for the prediction intervals alone: no training reads them.
SPLITS = ("train", "validation", "calibration", "test")
STRADDLING = "straddling"  # windows across a split cut: counted, never written
UTC_MICROS = pa.timestamp("us", tz="UTC")


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

    def __init__(
        self,
        *,
        seq_len: int,
        horizon: int,
        sampling_interval_seconds: int,
        train_cut,
        test_cut,
        calibration_cut=None,
        seasonal_periods: tuple[int, ...] = (),
    ):
        """The cuts, in time order: train_cut <= calibration_cut <= test_cut; without a
        calibration_cut, the validation period runs to the test cut."""
        if seq_len < 1 or horizon < 1:
            raise JobInputError(f"seq_len ({seq_len}) and horizon ({horizon}) must be at least 1")
        self.seq_len = seq_len
        self.span = seq_len - 1 + horizon  # from a window's first input to its target
        self.interval_us = sampling_interval_seconds * 1_000_000
        self.train_cut, self.test_cut = train_cut, test_cut
        self.calibration_cut = test_cut if calibration_cut is None else calibration_cut
        self.train_cut_us, self.test_cut_us = micros(train_cut), micros(test_cut)
        self.calibration_cut_us = micros(self.calibration_cut)
        self.seasonal_periods = tuple(seasonal_periods)
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
        for start, end in zip(run_starts, run_ends, strict=True):
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
            # normalize clips every value and prepare_sequences refuses NaN readings: a value that is
            # still not finite came from elsewhere, and no window may carry it to a model.
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(
                f"sensor {sensors[bad]}: the normalized reading at {rows.column('timestamp')[bad]} "
                "is not a finite float32; check the sensor's readings"
            )
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
        split[target_time < self.train_cut_us] = "train"
        split[(window_start >= self.train_cut_us) & (target_time < self.calibration_cut_us)] = "validation"
        split[(window_start >= self.calibration_cut_us) & (target_time < self.test_cut_us)] = "calibration"
        split[window_start >= self.test_cut_us] = "test"
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
    batches: Iterable[pa.RecordBatch],
    cutter: WindowCutter,
    filesystem: pafs.FileSystem,
    output_dir: str,
    part_name: str,
) -> dict[str, tuple[int, int]]:
    """Write one task's windows to ``output_dir/split=<split>/<part_name>``; return, per split,
    how many windows there were and how many of them lack a seasonal naive forecast.

    Each file is written under a unique temporary name and renamed into place when complete, so
    a retried or speculative attempt replaces the same file instead of adding a second one.
    """
    writers: dict[str, tuple[pq.ParquetWriter, str, str]] = {}
    counts = {name: (0, 0) for name in (*SPLITS, STRADDLING)}
    try:
        for split, windows in cutter.windows(batches):
            total, missing = counts[split]
            counts[split] = (total + windows.num_rows, missing + int(tensors.lacks_seasonal_naive(windows).sum()))
            if split == STRADDLING:
                continue
            if split not in writers:
                final = f"{output_dir}/split={split}/{part_name}"
                temporary = f"{output_dir}/split={split}/.{part_name}.{uuid.uuid4().hex}.tmp"
                filesystem.create_dir(f"{output_dir}/split={split}", recursive=True)
                # Dictionaries for the sensor names only: Spark's vectorized reader fails on a
                # dictionary-encoded float list whose elements are all null (no seasonal
                # forecast in the whole file), and float dictionaries save nothing here.
                writer = pq.ParquetWriter(
                    temporary, windows.schema, filesystem=filesystem, use_dictionary=["sensor_id"]
                )
                writers[split] = (writer, temporary, final)
            writers[split][0].write_table(windows)
    finally:
        for writer, _, _ in writers.values():
            writer.close()
    for _, temporary, final in writers.values():
        filesystem.move(temporary, final)
    return counts


def write_partition_windows(cutter: WindowCutter, lake: Lake, output_dir: str):
    """The ``mapInArrow`` function: cuts and writes a task's windows, returns their counts."""

    def run_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        part_name = f"part-{TaskContext.get().partitionId():05d}.parquet"
        counts = write_windows(batches, cutter, lake.arrow_filesystem, output_dir, part_name)
        yield pa.RecordBatch.from_pydict(
            {
                "split": list(counts),
                "windows": [total for total, _ in counts.values()],
                "without_seasonal_naive": [missing for _, missing in counts.values()],
            }
        )

    return run_task
