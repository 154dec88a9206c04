from datetime import datetime

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sensor_lstm.training import shards


def test_equal_shards_give_every_rank_the_same_rows_and_leave_the_remainder_out():
    # 11 rows in pieces of 4, 4 and 3: each of 2 ranks gets 5, row 10 is left out.
    assert shards.shard_slices([4, 4, 3], rank=0, size=2, equal=True) == [(0, 0, 4), (1, 0, 1)]
    assert shards.shard_slices([4, 4, 3], rank=1, size=2, equal=True) == [(1, 1, 3), (2, 0, 2)]


def test_unequal_shards_cover_every_row_once():
    slices = [shards.shard_slices([4, 0, 3], rank, 3, equal=False) for rank in range(3)]
    assert slices == [[(0, 0, 2)], [(0, 2, 2)], [(2, 0, 3)]]
    assert shards.shard_slices([], rank=0, size=2, equal=False) == []


def test_read_shard_reads_only_its_rows(tmp_path):
    schema = pa.schema(
        [
            ("sensor_id", pa.string()),
            ("target_time", pa.timestamp("us", tz="UTC")),
            ("inputs", pa.list_(pa.float32())),
            ("target", pa.float32()),
        ]
    )
    for part, first in (("part-00000.parquet", 0), ("part-00001.parquet", 3)):
        rows = range(first, first + 3)
        table = pa.table(
            {
                "sensor_id": [f"s{row}" for row in rows],
                "target_time": [datetime(2026, 11, 25)] * 3,
                "inputs": [[float(row)] * 2 for row in rows],
                "target": [float(row) for row in rows],
            },
            schema=schema,
        )
        pq.write_table(table, tmp_path / part, row_group_size=2)
    (tmp_path / ".part-00002.parquet.abc.tmp").write_text("an unfinished write, never read")
    read = [shards.read_shard(pafs.LocalFileSystem(), str(tmp_path), rank, 2, equal=False) for rank in range(2)]
    assert [shard.column("target").to_pylist() for shard in read] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert shards.read_shard(pafs.LocalFileSystem(), str(tmp_path / "missing"), 0, 2, equal=True) is None
