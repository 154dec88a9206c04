import pytest

from benchmarks.allreduce_latency import lstm_parameters
from benchmarks.bench_train import scaling_by_batch, time_to_quality


def test_scaling_by_batch_takes_medians_of_each_rounds_own_efficiency():
    runs = [
        {"batch_size": 256, "windows_per_second": {1: 100.0, 2: 120.0}},
        {"batch_size": 1024, "windows_per_second": {1: 200.0, 2: 360.0}},
        {"batch_size": 256, "windows_per_second": {1: 80.0, 2: 128.0}},
        {"batch_size": 1024, "windows_per_second": {1: 100.0, 2: 170.0}},
        {"batch_size": 256, "windows_per_second": {1: 90.0, 2: 117.0}},
    ]

    summary = scaling_by_batch(runs)

    assert [row["batch_size"] for row in summary] == [256, 1024]
    small, large = summary
    assert small["rounds"] == 3
    assert small["windows_per_second"] == {1: 90.0, 2: 120.0}
    # rounds: 60%, 80%, 65%; the median of the rounds' ratios, not the ratio of the medians (120/180)
    assert small["scaling_efficiency"] == pytest.approx(0.65)
    assert small["scaling_efficiency_range"] == pytest.approx([0.6, 0.8])
    assert large["windows_per_second"] == {1: 150.0, 2: 265.0}
    assert large["scaling_efficiency"] == pytest.approx(0.875)  # median of 90% and 85%


def test_lstm_parameters_counts_the_pipeline_models_weights():
    # LSTM: 4 gates x units x (1 input + units recurrent + 1 bias); Dense: units + 1
    assert lstm_parameters(16) == 4 * 16 * 18 + 17 == 1169
    assert lstm_parameters(64) == 16961


def test_time_to_quality_is_the_time_until_every_run_reached_the_same_validation_loss():
    reports = {
        "1 rank": {"val_loss": [0.9, 0.5, 0.3, 0.2, 0.25], "epoch_seconds": [4.0, 2.0, 2.0, 2.0, 2.0]},
        "2 ranks": {"val_loss": [0.8, 0.6, 0.28, 0.26], "epoch_seconds": [3.0, 1.0, 1.0, 1.0]},
        "auto": {"val_loss": [0.7, 0.26], "epoch_seconds": [5.0, 5.0]},
    }
    # Best losses 0.2, 0.26 and 0.26: the target is 0.26. One rank reaches it in its 4th epoch
    # (10 s), two ranks in their 4th (6 s), auto in its 2nd (10 s).
    assert time_to_quality(reports) == {
        "target_val_loss": 0.26,
        "reached": {
            "1 rank": {"seconds": 10.0, "epochs": 4},
            "2 ranks": {"seconds": 6.0, "epochs": 4},
            "auto": {"seconds": 10.0, "epochs": 2},
        },
        "time_ratio": {"1 rank": 1.0, "2 ranks": pytest.approx(0.6), "auto": 1.0},
    }
