from sensor_lstm.training.rank_count import RankCount, count_ranks, reserved_ranks


def test_auto_adds_a_rank_per_windows_per_rank_and_shares_the_reserved_cores():
    assert count_ranks("auto", 2, 1, train_windows=6119, windows_per_rank=1000, executor_cores=2) == RankCount(
        2,
        1,
        "auto: 6119 training windows; at least 2 x 1000 (auto_windows_per_rank); auto_max_ranks is 2: "
        "2 rank(s) x 1 thread(s) of the 2 reserved cores",
    )
    assert count_ranks("auto", 2, 1, train_windows=6119, windows_per_rank=10_000, executor_cores=2) == RankCount(
        1,
        2,
        "auto: 6119 training windows; fewer than 2 x 10000 (auto_windows_per_rank): 1 rank(s) x 2 thread(s) "
        "of the 2 reserved cores",
    )
    three = count_ranks("auto", 4, 2, train_windows=35_000, windows_per_rank=10_000, executor_cores=16)
    assert (three.ranks, three.threads_per_rank) == (3, 2)  # 8 cores: 2 each, none shared


def test_a_rank_takes_no_more_threads_than_one_executor_holds():
    assert count_ranks("auto", 4, 1, train_windows=10, windows_per_rank=1000, executor_cores=2).threads_per_rank == 2
    unknown = count_ranks("auto", 2, 1, train_windows=10, windows_per_rank=1000, executor_cores=None)
    assert unknown == RankCount(
        1,
        1,
        "auto: 10 training windows; fewer than 2 x 1000 (auto_windows_per_rank): 1 rank(s) x 1 thread(s) of the 2 "
        "reserved cores (an executor's cores unknown: spark.executor.cores)",
    )


def test_a_number_asked_is_run_as_asked_whatever_the_windows():
    asked = count_ranks(3, 2, 2, train_windows=10, windows_per_rank=10_000, executor_cores=8)
    assert asked == RankCount(3, 2, "num_proc 3 as asked")
    assert count_ranks("3", 2, 2, train_windows=10, windows_per_rank=10_000, executor_cores=8).ranks == 3


def test_the_cores_reserved_before_the_windows_exist():
    assert reserved_ranks("auto", 4) == 4
    assert reserved_ranks(3, 4) == reserved_ranks("3", 4) == 3
