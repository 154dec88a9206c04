"""The function ``horovod.spark.run`` ships to every rank. The driver imports this module to name
it, and pickling sends it by reference; the executor side (executor_rank.py, which loads
TensorFlow and Horovod) is imported only inside the rank, so the driver never loads them."""

from __future__ import annotations

from sensor_lstm.training.rank_spec import RankSpec


def train(spec: RankSpec) -> dict:
    from sensor_lstm.training import executor_rank

    return executor_rank.train(spec)
