import numpy as np
import pytest

from sensor_lstm.training import model as lstm


@pytest.mark.parametrize("learns_change", [False, True])
def test_build_lstm_predicts_one_value_per_window(learns_change):
    model = lstm.build_lstm(seq_len=4, units=3, learning_rate=0.01, learns_change=learns_change)
    assert model.predict(np.zeros((5, 4, 1), dtype=np.float32), verbose=0).shape == (5, 1)


def test_a_model_that_learns_the_change_starts_as_persistence_and_trains_every_weight_of_the_plain_one():
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4, 1)
    model = lstm.build_lstm(seq_len=4, units=3, learning_rate=0.01, learns_change=True)
    assert model.predict(x, verbose=0)[:, 0].tolist() == x[:, -1, 0].tolist()
    plain = lstm.build_lstm(seq_len=4, units=3, learning_rate=0.01, learns_change=False)
    assert [w.shape for w in model.trainable_weights] == [w.shape for w in plain.trainable_weights]


@pytest.mark.parametrize("learns_change", [False, True])
def test_a_model_rebuilt_from_its_spec_predicts_the_same(learns_change):
    model = lstm.build_lstm(seq_len=4, units=3, learning_rate=0.01, learns_change=learns_change, seed=7)
    model.set_weights([np.full(w.shape, 0.1, np.float32) for w in model.get_weights()])
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4, 1)
    rebuilt = lstm.model_from_spec(lstm.model_spec(model))
    assert rebuilt.predict(x, verbose=0).tolist() == model.predict(x, verbose=0).tolist()


def test_change_weights_are_the_inverse_square_of_persistences_training_rmse_in_standard_units_floored():
    rmse = np.array([0.5, 0.1, 0.0, np.nan])
    std = np.array([1.0, 2.0, 3.0, 1.0])
    # 0.5 and 0.05 standard units; a stuck sensor at the floor, 0.01; an unknown one 1.
    assert lstm.change_weights(rmse, std).tolist() == pytest.approx([4.0, 400.0, 10_000.0, 1.0])
    assert lstm.change_weights(np.array([None, 0.2], dtype=object), np.array([1.0, 1.0])).tolist() == (
        pytest.approx([1.0, 25.0])
    )


def test_the_batch_shrinks_so_an_epoch_takes_enough_steps():
    assert lstm.batch_size_for(100_000, 256, 64) == 256
    assert lstm.batch_size_for(3059, 256, 64) == 47
    assert lstm.batch_size_for(10, 256, 64) == 1


def test_the_learning_rate_scales_with_the_global_batch_over_one_process_batch():
    # Large data: each of 2 ranks takes the largest batch, 256, where one process takes 256.
    assert lstm.scaled_learning_rate(0.001, 2 * 256, 256) == 0.002
    # Small data: each rank's batch shrank to 23 where one process takes 47: about the same rate.
    assert lstm.scaled_learning_rate(0.001, 2 * 23, 47) == pytest.approx(0.000978723)
