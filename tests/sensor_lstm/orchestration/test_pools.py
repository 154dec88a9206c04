from types import SimpleNamespace

import pytest

from sensor_lstm.orchestration.pools import RANK_CORES, baseline_cores, data_job_cores, render_cores, size_pool_slots
from sensor_lstm.settings import DEFAULTS


@pytest.mark.parametrize(
    ("params", "cores"),
    [
        ({}, 2),
        ({"partitions": 1}, 1),
        ({"num_proc": 1}, 3),
        ({"threads_per_rank": 2}, 1),  # the ranks take all 4: never zero, it waits in the pool
        ({"partitions": 16, "num_proc": 1, "threads_per_rank": 1}, 3),
        ({"num_proc": "auto", "auto_max_ranks": 3}, 1),  # auto reserves its most ranks' cores
        ({"num_proc": "1"}, 3),  # a form's text box hands a number over as text
    ],
)
def test_train_baseline_leaves_train_distributed_its_cores_on_a_cluster_of_4(params, cores):
    assert render_cores(baseline_cores(4), DEFAULTS | params) == cores


def test_without_a_known_cluster_size_data_jobs_have_no_limit_and_the_baseline_one_core_per_partition():
    assert data_job_cores(0, 2) is None and data_job_cores(4, 2) == "2" and data_job_cores(1, 2) == "1"
    assert render_cores(baseline_cores(0), DEFAULTS | {"partitions": 8}) == 8
    assert render_cores(RANK_CORES, DEFAULTS | {"num_proc": 3, "threads_per_rank": 2}) == 6
    assert render_cores(RANK_CORES, DEFAULTS | {"num_proc": "auto", "auto_max_ranks": 3, "threads_per_rank": 2}) == 6
    assert render_cores(RANK_CORES, DEFAULTS) == DEFAULTS["auto_max_ranks"] * DEFAULTS["threads_per_rank"] == 2


def task_instance(pool: str, conf: dict, slots: int = 2):
    task = SimpleNamespace(params={"num_proc": 2, "threads_per_rank": 1}, conf=conf)
    return SimpleNamespace(task=task, task_id="train_distributed", pool=pool, pool_slots=slots)


def test_a_task_instance_in_the_pool_takes_the_slots_of_its_own_runs_params(caplog):
    instance = task_instance("spark_cores", {"spark.cores.max": RANK_CORES})
    size_pool_slots(instance, SimpleNamespace(conf={"num_proc": 3, "threads_per_rank": 2}))
    assert instance.pool_slots == 6
    untouched = task_instance("default_pool", {"spark.cores.max": RANK_CORES})
    size_pool_slots(untouched, SimpleNamespace(conf={"num_proc": 3}))
    assert untouched.pool_slots == 2
    broken = task_instance("spark_cores", {"spark.cores.max": RANK_CORES})
    size_pool_slots(broken, SimpleNamespace(conf={"num_proc": "three"}))
    assert broken.pool_slots == 2 and "cannot size its pool slots" in caplog.text
