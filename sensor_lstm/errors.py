"""How a job fails, and the exit code each failure gets: the DAG reads the code to decide whether
a retry can help. Stdlib only, so the DAG can import it."""

EXIT_STAGE_FAILED = 1  # a StageFailed: said in one line, retried like any failure
EXIT_INPUT_ERROR = 2  # bad input or arguments (argparse's code too): a retry cannot help
EXIT_BUSY = 75  # EX_TEMPFAIL: another run writes the same day; a later retry may succeed


class JobInputError(ValueError):
    """Bad input or arguments: the job reports it in one line, without a stack trace."""


class LakeBusyError(RuntimeError):
    """Another run holds the lock of a day this job writes."""


class StageFailed(RuntimeError):
    """A stage that ran and failed for a reason its message says in full (the training diverged,
    a Horovod rank stopped, the tracking server is unreachable): reported in one line."""
