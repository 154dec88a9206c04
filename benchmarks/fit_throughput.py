"""One plain tf_keras fit of the pipeline's LSTM on random windows, one TensorFlow thread, no
Spark and no Horovod: what one core trains per second. bench_train runs it alone and two at once
(each pinned to its own core) to show what the machine gives two independent trainers.

Example:
    taskset -c 0 python -m benchmarks.fit_throughput --batch-size 256
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sensor_lstm.settings import DEFAULT_MODEL
from sensor_lstm.training import model as lstm


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=118886)
    parser.add_argument("--seq-len", type=int, default=DEFAULT_MODEL.seq_len)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_MODEL.batch_size)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)

    lstm.limit_tensorflow_threads(1)
    generator = np.random.default_rng(0)
    x = generator.standard_normal((args.windows, args.seq_len, 1), dtype=np.float32)
    y = generator.standard_normal(args.windows, dtype=np.float32)
    model = lstm.build_lstm(args.seq_len, args.units, 0.001, learns_change=DEFAULT_MODEL.lstm_learns_change)
    seconds: list[float] = []

    class EpochTimer(lstm.tf_keras().callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0, callbacks=[EpochTimer()])
    print(
        json.dumps(
            {"windows_per_second": args.windows / float(np.median(seconds[1:] or seconds)), "epoch_seconds": seconds}
        )
    )


if __name__ == "__main__":
    main()
