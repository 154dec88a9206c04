"""How many Horovod ranks train_distributed runs: the number asked, or under ``auto`` one chosen
from the day's training windows. Stdlib only: the DAG's pool sizing and check_params read the
cores a run reserves from here too.

Why the rule: a rank pays one allreduce every step (4.8 ms with 2 ranks on one 2-core host,
benchmarks/README.md), so a rank is worth adding only where each rank's share of an epoch is long
enough to amortize it. Below that, one rank with every reserved core as its threads reaches the
same validation loss sooner.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTO = "auto"


def reserved_ranks(num_proc: int | str, auto_max_ranks: int) -> int:
    """The ranks whose cores a run reserves before its windows exist: ``auto_max_ranks`` under
    ``auto``, else the number asked (a form may hand it over as text)."""
    return auto_max_ranks if num_proc == AUTO else int(num_proc)


@dataclass(frozen=True)
class RankCount:
    ranks: int
    threads_per_rank: int
    reason: str


def count_ranks(
    num_proc: int | str,
    auto_max_ranks: int,
    threads_per_rank: int,
    train_windows: int,
    windows_per_rank: int,
    executor_cores: int | None,
) -> RankCount:
    """The ranks to run and each one's threads. Under ``auto``: one rank per ``windows_per_rank``
    training windows, at least 1 and at most ``auto_max_ranks``; fewer ranks share the reserved
    ``auto_max_ranks x threads_per_rank`` cores, as far as one executor holds them
    (``executor_cores``; None where unknown: a rank then keeps ``threads_per_rank``). A number
    asked is run as asked."""
    if num_proc != AUTO:
        ranks = int(num_proc)
        return RankCount(ranks, threads_per_rank, f"num_proc {ranks} as asked")
    cores = auto_max_ranks * threads_per_rank
    ranks = max(1, min(auto_max_ranks, train_windows // windows_per_rank))
    threads = max(threads_per_rank, min(cores // ranks, executor_cores or threads_per_rank))
    if ranks < auto_max_ranks:
        why = f"fewer than {ranks + 1} x {windows_per_rank} (auto_windows_per_rank)"
    else:
        why = f"at least {ranks} x {windows_per_rank} (auto_windows_per_rank); auto_max_ranks is {auto_max_ranks}"
    held = "" if threads * ranks == cores or executor_cores else " (an executor's cores unknown: spark.executor.cores)"
    return RankCount(
        ranks,
        threads,
        f"auto: {train_windows} training windows; {why}: {ranks} rank(s) x {threads} thread(s) "
        f"of the {cores} reserved cores{held}",
    )
