"""Who gets the champion alias, and which models evaluate agrees to load.

The quality gate: the new version's skill over the best naive forecast must exceed
``champion_min_skill``, or it never becomes champion, not even the first one. Then it must beat
the current champion re-scored on the same windows, and a backfill (an earlier run day than the
champion's) takes the alias only with ``promote_older_day``.
"""

from __future__ import annotations

import re

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake.reports import TrainBaselineReport, TrainDistributedReport
from sensor_lstm.scoring import skill

MLFLOW_RUN_ID = re.compile(r"[0-9a-f]{32}")


def best_naive(rows: list[dict]) -> dict:
    """The naive forecast with the lowest test RMSE."""
    return min((row for row in rows if row["naive"] and "rmse" in row), key=lambda row: row["rmse"])


def champion_decision(
    candidate: dict, champion: dict | None, naive: dict, min_skill: float, promote_older_day: bool = False
) -> tuple[bool, str]:
    """Whether the alias moves to the candidate, and why. The candidate must first pass the
    quality gate: a skill over the best naive forecast (``naive``: its row) above ``min_skill``.
    Then it must beat the champion, if there is one, and, unless ``promote_older_day``, not be
    for an earlier run day than the champion's (a backfill). Each is {"version", "scores",
    "run_day"}, the champion also "seq_len_matches"; every score comes from the same test windows."""
    version, new, windows = candidate["version"], candidate["scores"]["rmse"], candidate["scores"]["windows"]
    gained = skill(new, naive["rmse"])
    if champion is not None and champion["version"] == version:
        return False, f"version {version} already is the champion"
    if not gained > min_skill:
        return False, (
            f"version {version} fails the quality gate: test RMSE {new:.4f} against {naive['model']}'s "
            f"{naive['rmse']:.4f} on the same {windows} windows is a skill of {gained:.1%}, the gate asks for more "
            f"than {min_skill:.1%}"
        )
    passed = f"skill {gained:.1%} over {naive['model']}"
    if champion is None:
        return True, f"no champion yet: version {version} becomes the first ({passed})"
    older = candidate.get("run_day") and champion.get("run_day") and candidate["run_day"] < champion["run_day"]
    if older and not promote_older_day:
        return False, (
            f"version {version} is for {candidate['run_day']}, before champion version {champion['version']}'s "
            f"{champion['run_day']}: a backfill does not replace a champion trained on newer data unless asked "
            "(Param promote_older_day)"
        )
    if not champion["seq_len_matches"]:
        return False, (
            f"champion version {champion['version']} takes windows of another length than this run's, so it "
            "cannot be re-scored on them; move the alias by hand to replace it"
        )
    old = champion["scores"]["rmse"]
    if new < old:
        return True, (
            f"test RMSE {new:.4f} beats champion version {champion['version']}'s {old:.4f} on the same {windows} "
            f"windows ({passed})"
        )
    return False, (
        f"test RMSE {new:.4f} does not beat champion version {champion['version']}'s {old:.4f} on the same "
        f"{windows} windows"
    )


def check_models_named(distributed: TrainDistributedReport, baseline: TrainBaselineReport, model_name: str) -> None:
    """Loading a model runs its code: load only what this pipeline registered. The lake's reports
    name the version and run to load; refuse ones that point anywhere else."""
    if distributed.model_name != model_name or not isinstance(distributed.model_version, int):
        raise JobInputError(
            f"train_distributed's report names model {distributed.model_name!r} version "
            f"{distributed.model_version!r}; this pipeline loads only versions of {model_name!r}"
        )
    if not MLFLOW_RUN_ID.fullmatch(str(baseline.mlflow_run_id)):
        raise JobInputError(f"train_baseline's report names run {baseline.mlflow_run_id!r}, not a run id")
