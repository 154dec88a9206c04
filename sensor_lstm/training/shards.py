"""A Horovod rank's share of the day's windows, read straight from the lake's Parquet files.

Rank r of n reads rows [r * m, (r + 1) * m) of the training windows, m = total // n, from the
Parquet row groups that hold them: no rank loads the whole set, and every rank takes the same
number of steps per epoch (the last total % n windows are left out, and counted). Validation and
test windows are shared out the same way, without the equal-size rule. Arrow and NumPy only: this
runs, and is tested, without TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sensor_lstm.training import model as lstm
from sensor_lstm.windows import tensors


@dataclass(frozen=True)
class Windows:
    x: np.ndarray  # (windows, seq_len, 1), normalized
    y: np.ndarray  # (windows,), normalized
    mean: np.ndarray  # each window's sensor statistics
    std: np.ndarray
    one_step_naive_rmse: np.ndarray
    sensor_id: np.ndarray
    target_time: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def fit_arrays(self, learns_change: bool) -> tuple[np.ndarray, ...]:
        """x and y, and the loss weights of a model that learns the change."""
        if not learns_change:
            return self.x, self.y
        return self.x, self.y, lstm.change_weights(self.one_step_naive_rmse, self.std)


def shard_slices(row_counts: Sequence[int], rank: int, size: int, equal: bool) -> list[tuple[int, int, int]]:
    """The (piece, first row, rows) slices of ``rank``'s share of pieces holding ``row_counts``
    rows. ``equal``: every rank gets total // size rows; otherwise the shares differ by at most 1."""
    total = sum(row_counts)
    if equal:
        start, stop = rank * (total // size), (rank + 1) * (total // size)
    else:
        start, stop = total * rank // size, total * (rank + 1) // size
    slices, offset = [], 0
    for piece, count in enumerate(row_counts):
        first, last = max(start, offset), min(stop, offset + count)
        if first < last:
            slices.append((piece, first - offset, last - first))
        offset += count
    return slices


def row_groups(filesystem: pafs.FileSystem, directory: str) -> list[tuple[str, int, int]]:
    """The Parquet row groups under ``directory`` in a fixed order, as (file, group, rows)."""
    infos = filesystem.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
    files = sorted(
        info.path
        for info in infos
        if info.is_file and info.path.endswith(".parquet") and not os.path.basename(info.path).startswith((".", "_"))
    )
    groups = []
    for path in files:
        with filesystem.open_input_file(path) as source:
            metadata = pq.ParquetFile(source).metadata
        groups += [(path, group, metadata.row_group(group).num_rows) for group in range(metadata.num_row_groups)]
    return groups


def read_shard(filesystem: pafs.FileSystem, directory: str, rank: int, size: int, equal: bool) -> pa.Table | None:
    """Only the rows of ``rank``'s share, reading only the row groups that hold them."""
    groups = row_groups(filesystem, directory)
    pieces = []
    for piece, first, rows in shard_slices([rows for _, _, rows in groups], rank, size, equal):
        path, group, _ = groups[piece]
        with filesystem.open_input_file(path) as source:
            table = pq.ParquetFile(source).read_row_group(
                group, columns=["sensor_id", "target_time", "inputs", "target"]
            )
        pieces.append(table.slice(first, rows))
    return pa.concat_tables(pieces) if pieces else None


def read_statistics(filesystem: pafs.FileSystem, directory: str) -> pa.Table:
    return pq.read_table(directory, filesystem=filesystem, columns=["sensor_id", "mean", "std", "one_step_naive_rmse"])


def with_statistics(table: pa.Table | None, stats: pa.Table, seq_len: int) -> Windows:
    if table is None or table.num_rows == 0:
        empty = np.zeros(0)
        return Windows(np.zeros((0, seq_len, 1), np.float32), empty, empty, empty, empty, empty, empty)
    x, y = tensors.arrow_window_tensors(table)
    row = pc.index_in(table.column("sensor_id"), value_set=stats.column("sensor_id")).to_numpy(zero_copy_only=False)
    return Windows(
        x=x,
        y=y,
        mean=stats.column("mean").to_numpy()[row],
        std=stats.column("std").to_numpy()[row],
        one_step_naive_rmse=stats.column("one_step_naive_rmse").to_numpy(zero_copy_only=False)[row],
        sensor_id=table.column("sensor_id").to_numpy(zero_copy_only=False),
        target_time=table.column("target_time").to_numpy(),
    )
