import time
from types import SimpleNamespace

from sensor_lstm.training.rank_watch import RankWatch, ranks_failure


def test_a_failed_rank_is_named_in_one_line():
    horovod_error = RuntimeError(
        "Horovod detected that one or more processes exited with non-zero status, thus causing the job to be "
        "terminated. The first process to do so was:\nProcess name: 1\nExit code: 137\n"
    )
    watch = RankWatch(None, 2, 10, 100)
    assert ranks_failure(horovod_error, watch) == (
        "Horovod rank 1 exited with code 137 and the job was stopped; the rank's own error, if it logged one, is above"
    )
    watch.fired = "1 of 2 Horovod ranks finished and 1 still ran 10 s later (--stall-timeout-seconds): stopped or hung"
    assert ranks_failure(horovod_error, watch) == watch.fired


class Stages:
    """A stand-in SparkContext whose status tracker reports one stage of the ranks' tasks."""

    def __init__(self, completed: int, active: int):
        self.stage = SimpleNamespace(numTasks=2, numCompletedTasks=completed, numFailedTasks=0, numActiveTasks=active)
        self.cancelled_at = None

    def statusTracker(self):
        return SimpleNamespace(getActiveStageIds=lambda: [7], getStageInfo=lambda stage: self.stage)

    def cancelAllJobs(self):
        self.cancelled_at = time.monotonic()


def test_the_watch_cancels_ranks_left_running_after_another_finished_or_past_the_deadline():
    started = time.monotonic()
    uneven = Stages(completed=1, active=1)
    with RankWatch(uneven, 2, grace_seconds=0.3, deadline_seconds=60, poll_seconds=0.05) as watch:
        time.sleep(1.0)
    assert 0.3 <= uneven.cancelled_at - started < 1.0
    assert watch.fired == (
        "1 of 2 Horovod ranks finished and 1 still ran 0 s later (--stall-timeout-seconds): stopped or hung; cancelled"
    )
    running = Stages(completed=0, active=2)
    with RankWatch(running, 2, grace_seconds=0.3, deadline_seconds=0.5, poll_seconds=0.05) as watch:
        time.sleep(1.0)
    assert running.cancelled_at is not None and watch.fired.startswith("the Horovod ranks still ran 0 s after")
    healthy = Stages(completed=0, active=2)
    with RankWatch(healthy, 2, grace_seconds=0.3, deadline_seconds=60, poll_seconds=0.05) as watch:
        time.sleep(0.5)
    assert (healthy.cancelled_at, watch.fired) == (None, None)
