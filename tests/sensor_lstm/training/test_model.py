import numpy as np
import pytest

from sensor_lstm.training import model as lstm


def test_build_lstm_predicts_one_value_per_window():
    model = lstm.build_lstm(seq_len=4, units=3, learning_rate=0.01)
    assert model.predict(np.zeros((5, 4, 1), dtype=np.float32), verbose=0).shape == (5, 1)


def test_a_model_rebuilt_from_its_spec_predicts_the_same():
    model = lstm.build_lstm(seq_len=4, units=3, learning_rate=0.01, seed=7)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4, 1)
    rebuilt = lstm.model_from_spec(lstm.model_spec(model))
    assert rebuilt.predict(x, verbose=0).tolist() == model.predict(x, verbose=0).tolist()


def test_the_batch_shrinks_so_an_epoch_takes_enough_steps():
    assert lstm.batch_size_for(100_000, 256, 64) == 256
    assert lstm.batch_size_for(3059, 256, 64) == 47
    assert lstm.batch_size_for(10, 256, 64) == 1


def test_the_learning_rate_scales_with_the_global_batch_over_one_process_batch():
    # Large data: each of 2 ranks takes the largest batch, 256, where one process takes 256.
    assert lstm.scaled_learning_rate(0.001, 2 * 256, 256) == 0.002
    # Small data: each rank's batch shrank to 23 where one process takes 47: about the same rate.
    assert lstm.scaled_learning_rate(0.001, 2 * 23, 47) == pytest.approx(0.000978723)
