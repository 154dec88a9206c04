"""What one Horovod allreduce of the LSTM's gradients costs on this machine, with 1 and with 2
ranks over gloo, each rank pinned to its own core as train_distributed --bind-cores does.

Every synchronous training step ends with one such allreduce, which both ranks must reach: its
cost is fixed per step, whatever the batch, so only more compute per step (a larger batch per
rank) amortizes it. bench_train prints it beside the throughputs.

Example:
    python -m benchmarks.allreduce_latency --units 16 --calls 1000
"""

from __future__ import annotations

import argparse
import json
import time


def lstm_parameters(units: int) -> int:
    """Weights of sensor_lstm.training.model.build_lstm (LSTM on one feature, then Dense(1)): its gradient size."""
    return 4 * units * (1 + units + 1) + units + 1


def seconds_per_allreduce(elements: int, calls: int) -> float:
    """One rank: the mean time of ``calls`` averaged allreduces of ``elements`` floats."""
    import horovod.tensorflow as hvd
    import tensorflow as tf

    from sensor_lstm.training import executor_rank
    from sensor_lstm.training import model as lstm

    hvd.init()
    lstm.limit_tensorflow_threads(1)
    executor_rank.bind_to_own_cores(hvd.local_rank(), 1)
    gradients = tf.ones([elements])

    @tf.function(autograph=False)
    def allreduce(tensor):
        return hvd.grouped_allreduce([tensor], op=hvd.Average)

    for _ in range(50):  # negotiation caches and graph tracing
        allreduce(gradients)
    started = time.perf_counter()
    for _ in range(calls):
        allreduce(gradients)
    return (time.perf_counter() - started) / calls


def measure(ranks: int, elements: int, calls: int) -> float:
    """Milliseconds per allreduce, the slowest rank's mean."""
    import horovod.runner

    per_rank = horovod.runner.run(
        seconds_per_allreduce, args=(elements, calls), np=ranks, hosts=f"localhost:{ranks}", use_gloo=True
    )
    return max(per_rank) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args(argv)
    elements = lstm_parameters(args.units)
    result = {
        "gradient_elements": elements,
        **{f"ms_{ranks}_rank": measure(ranks, elements, args.calls) for ranks in (1, 2)},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
