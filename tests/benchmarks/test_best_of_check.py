import numpy as np
import pytest

from benchmarks.best_of_check import block_bootstrap_ratio


def test_the_ratio_interval_is_exact_where_every_resample_has_the_same_ratio():
    rival = np.array([1.0, 4.0, 9.0, 16.0, 25.0])
    assert block_bootstrap_ratio(rival, rival, block=2) == [1.0, 1.0]
    # Every window's squared error four times the rival's: RMSE twice, whichever windows are drawn.
    assert block_bootstrap_ratio(4 * rival, rival, block=3) == pytest.approx([2.0, 2.0])
    # A block longer than the windows is all of them, each resample the whole series once.
    assert block_bootstrap_ratio(np.array([1.0, 9.0]), np.array([1.0, 1.0]), block=5) == pytest.approx([2.236068] * 2)


def test_the_interval_holds_the_ratio_and_narrows_with_more_windows():
    rng = np.random.default_rng(1)
    intervals = []
    for count in (50, 5000):
        errors, rival = rng.exponential(1.2, count), rng.exponential(1.0, count)
        low, high = block_bootstrap_ratio(errors, rival, block=10)
        assert low <= np.sqrt(errors.mean() / rival.mean()) <= high
        intervals.append(high - low)
    assert intervals[1] < intervals[0] / 5
