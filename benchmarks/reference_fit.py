"""The reference: a plain single-process Keras LSTM of the pipeline's size, trained to
convergence the way a Keras tutorial would, on the run day's windows from the lake, and scored in
original units on the same test windows as evaluate (those with every seasonal naive forecast),
pooled and per sensor.

No Spark, no Horovod, none of sensor_lstm/training/fit.py: tf_keras's own EarlyStopping (patience 20,
best weights restored) and ReduceLROnPlateau (patience 5), batches of 32, Adam at 0.001, all of
the machine's cores. bench_quality compares the pipeline's distributed model with it. Prints
one JSON line.

Example:
    python -m benchmarks.reference_fit --lake var/bench-quality/greensboro_temperature/lake \\
        --run-date 2026-01-01 --units 16
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sensor_lstm import scoring
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.training import model as lstm
from sensor_lstm.windows import tensors


def windows(lake: str, day: str, split: str) -> pa.Table:
    return pq.read_table(f"{Lake(lake).partition(datasets.SEQUENCES, date.fromisoformat(day))}/split={split}")


def with_every_seasonal_forecast(table: pa.Table) -> pa.Table:
    return table.filter(pa.array(~tensors.lacks_seasonal_naive(table)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=1000)
    args = parser.parse_args(argv)

    keras = lstm.tf_keras()
    train, validation = (
        tensors.arrow_window_tensors(windows(args.lake, args.run_date, split)) for split in ("train", "validation")
    )
    test = with_every_seasonal_forecast(windows(args.lake, args.run_date, "test"))
    stats = pq.read_table(Lake(args.lake).partition(datasets.SEQUENCE_STATS, date.fromisoformat(args.run_date)))
    row = pc.index_in(test.column("sensor_id"), value_set=stats.column("sensor_id")).to_numpy()
    mean, std = stats.column("mean").to_numpy()[row], stats.column("std").to_numpy()[row]

    model = lstm.build_lstm(train[0].shape[1], args.units, 0.001, learns_change=False, seed=0)
    started = time.perf_counter()
    history = model.fit(
        *train,
        validation_data=validation,
        batch_size=args.batch_size,
        epochs=args.max_epochs,
        shuffle=True,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5, min_lr=1e-5),
        ],
    )
    seconds = time.perf_counter() - started
    x, y = tensors.arrow_window_tensors(test)
    actual = tensors.to_original_units(y, mean, std)
    predicted = tensors.to_original_units(model.predict(x, verbose=0)[:, 0], mean, std)
    val_losses = history.history["val_loss"]
    sensors, sensor_index = np.unique(
        np.asarray(test.column("sensor_id").to_pylist(), dtype=object), return_inverse=True
    )
    by_sensor = scoring.error_sums_by_group(predicted, actual, sensor_index, len(sensors))
    print(
        json.dumps(
            {
                **scoring.scores(predicted, actual),
                "windows": len(y),
                "sensors": {
                    sensor: scoring.scores_from_sums(sums) for sensor, sums in zip(sensors, by_sensor, strict=True)
                },
                "epochs_trained": len(val_losses),
                "best_epoch": int(np.argmin(val_losses)),
                "best_val_loss": float(min(val_losses)),
                "train_seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
