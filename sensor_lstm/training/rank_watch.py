"""The driver's watch over train_distributed's Horovod ranks: ``horovod.spark.run`` waits for every
rank, and a rank that is stopped, frozen or stuck never finishes, so the watch cancels their Spark
tasks and the job fails in one line instead of hanging."""

from __future__ import annotations

import logging
import re
import threading
import time

log = logging.getLogger("train_distributed")


class RankWatch:
    """Cancels the ranks' Spark tasks once some ranks have finished (done or failed) and the
    others still run ``grace_seconds`` later, or once they all still run ``deadline_seconds``
    after the watch began: horovod.spark.run waits for every rank, and a rank that is stopped,
    frozen or stuck never finishes. ``fired`` says what it saw, once it has."""

    def __init__(
        self, spark_context, num_proc: int, grace_seconds: float, deadline_seconds: float, poll_seconds: float = 1.0
    ):
        self.context, self.num_proc, self.grace, self.poll = spark_context, num_proc, grace_seconds, poll_seconds
        self.deadline = deadline_seconds
        self.fired: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rank-watch", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def uneven(self) -> tuple[int, int] | None:
        """(finished, running) tasks of the ranks' stage when some have finished and some not."""
        tracker = self.context.statusTracker()
        for stage in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage)
            if info is None or info.numTasks != self.num_proc:
                continue
            finished = info.numCompletedTasks + info.numFailedTasks
            if finished and info.numActiveTasks:
                return finished, info.numActiveTasks
        return None

    def _watch(self) -> None:
        started, since = time.monotonic(), None
        while not self._stop.wait(self.poll):
            seen = self.uneven()
            since = None if seen is None else since or time.monotonic()
            if since is not None and time.monotonic() - since >= self.grace:
                self.fired = (
                    f"{seen[0]} of {self.num_proc} Horovod ranks finished and {seen[1]} still ran "
                    f"{self.grace:.0f} s later (--stall-timeout-seconds): stopped or hung; cancelled"
                )
            elif time.monotonic() - started >= self.deadline:
                self.fired = (
                    f"the Horovod ranks still ran {self.deadline:.0f} s after they were started (--start-timeout "
                    "+ --training-budget-minutes + --stall-timeout-seconds): stuck; cancelled"
                )
            if self.fired:
                log.error("%s", self.fired)
                self.context.cancelAllJobs()
                return


def ranks_failure(error: Exception, watch: RankWatch) -> str:
    """One line for what horovod.spark.run raised."""
    if watch.fired:
        return watch.fired
    text = str(error)
    found = re.search(r"Process name: (\S+)\s+Exit code: (-?\d+)", text)
    if found:
        return (
            f"Horovod rank {found.group(1)} exited with code {found.group(2)} and the job was stopped; "
            "the rank's own error, if it logged one, is above"
        )
    return f"the Horovod ranks failed: {' '.join(text.split())[:300]}"
