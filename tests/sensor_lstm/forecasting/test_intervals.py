import numpy as np
import pytest

from sensor_lstm.forecasting import intervals


def test_conformal_offsets_are_the_order_statistics_of_each_tail_and_never_narrow_with_the_step():
    # 39 residuals per step: the 80% interval's bounds are the 4th smallest and 4th largest
    # (rank ceil(40 x 0.9) = 36), the 95% interval's the extremes (rank ceil(40 x 0.975) = 39).
    first = np.arange(-19.0, 20.0)
    residuals = np.stack([first, first / 2], axis=1)
    lower, upper = intervals.conformal_offsets(residuals, 0.8)
    assert (lower.tolist(), upper.tolist()) == ([-16.0, -16.0], [16.0, 16.0])  # step 2 keeps step 1's width
    lower, upper = intervals.conformal_offsets(residuals, 0.95)
    assert (lower.tolist(), upper.tolist()) == ([-19.0, -19.0], [19.0, 19.0])
    # Too few residuals for a 95% rank (20 > 19): unbounded, never falsely narrow.
    lower, upper = intervals.conformal_offsets(residuals[:19], 0.95)
    assert (lower.tolist(), upper.tolist()) == ([-np.inf] * 2, [np.inf] * 2)


def test_offsets_of_every_level_are_in_units_of_the_local_scale():
    own = intervals.level_offsets(np.linspace(-1.0, 1.0, 60)[:, None])
    assert set(own) == {"lower_80", "upper_80", "lower_95", "upper_95"} and own["upper_95"][0] == pytest.approx(1.0)
    # 401 scores: the 95% bounds are the 392nd of 401 from either end (rank ceil(402 x 0.975)).
    pooled = intervals.level_offsets(np.linspace(-2.0, 2.0, 401)[:, None])
    assert (pooled["lower_95"][0], pooled["upper_95"][0]) == (pytest.approx(-1.91), pytest.approx(1.91))


def test_the_local_scale_is_the_latest_mean_absolute_change_at_least_the_floor():
    contexts = np.array([[9.0, 1.0, 2.0, 4.0, 3.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
    # The latest 3 steps: |2-1|, |4-2|, |3-4| average 4/3; the stuck row gets the floor.
    assert intervals.local_scales(contexts, 3, 0.25).tolist() == [pytest.approx(4 / 3), 0.25]
    assert intervals.scale_floor(2.0, 10.0) == pytest.approx(0.2)
    # A sensor that never moved in training: a millionth of its std, never zero.
    assert intervals.scale_floor(0.0, 3.0) == pytest.approx(3e-6)


def test_coverage_counts_each_step_of_each_window_inside_each_level_times_its_scale():
    offsets = {"lower_80": [-1.0, -2.0], "upper_80": [1.0, 2.0], "lower_95": [-3.0, -3.0], "upper_95": [3.0, 3.0]}
    residuals = np.array([[0.5, 1.5], [-1.5, 2.5], [8.0, 0.0]])
    # The third window's scale of 2 doubles its bounds: 8 is outside even the 95% one (6).
    assert intervals.coverage_counts(residuals, np.array([1.0, 1.0, 2.0]), offsets) == {
        "covered_80": 3,
        "covered_95": 5,
    }
    low, high = intervals.binomial_interval(95, 100)
    assert low < 0.95 < high and (round(low, 4), round(high, 4)) == (0.8882, 0.9785)
