"""Who gets the champion alias, and which models evaluate agrees to load.

The quality gate judges a new version the way forecasters do, per sensor and without units
(sensor_lstm.evaluation.comparison): its median MASE over the sensors that move must be lower than
the best naive forecast's, by more than ``champion_min_skill`` (a unit-free skill, 1 - its median
MASE / the naive forecast's), and it must beat each sensor's best naive forecast on at least
``champion_min_share`` of them; or it never becomes champion, not even the first one. Then its
median MASE must be lower than the current champion's, re-scored on the same windows, and a
backfill (an earlier run day than the champion's) takes the alias only with ``promote_older_day``.
"""

from __future__ import annotations

import re

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake.reports import TrainBaselineReport, TrainDistributedReport
from sensor_lstm.scoring import skill

MLFLOW_RUN_ID = re.compile(r"[0-9a-f]{32}")


def champion_decision(
    candidate: dict,
    champion: dict | None,
    naive: dict | None,
    min_skill: float,
    min_share: float,
    promote_older_day: bool = False,
) -> tuple[bool, str]:
    """Whether the alias moves to the candidate, and why. Each of candidate and champion is
    {"version", "scores", "run_day"}, the champion also "seq_len_matches"; "scores" and ``naive``
    (the best naive forecast) are rows of comparison.forecaster_rows, from the same windows."""
    version = candidate["version"]
    if champion is not None and champion["version"] == version:
        return False, f"version {version} already is the champion"
    failed = quality_gate_failure(candidate, naive, min_skill, min_share)
    if failed:
        return False, failed
    new, sensors = candidate["scores"]["median_mase"], candidate["scores"]["sensors"]
    passed = f"median MASE {new:.3f} against {naive['model']}'s {naive['median_mase']:.3f} over {sensors} sensors"
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
    old = champion["scores"]["median_mase"]
    if old is None or new < old:
        return True, (
            f"median MASE {new:.3f} beats champion version {champion['version']}'s "
            f"{'-' if old is None else f'{old:.3f}'} on the same windows ({passed})"
        )
    return (
        False,
        f"median MASE {new:.3f} does not beat champion version {champion['version']}'s {old:.3f} on the same windows",
    )


def quality_gate_failure(candidate: dict, naive: dict | None, min_skill: float, min_share: float) -> str | None:
    """Why the candidate fails the quality gate, or None when it passes."""
    version, scores = candidate["version"], candidate["scores"]
    if naive is None or scores["median_mase"] is None:
        return (
            f"version {version} fails the quality gate: no scored sensor moves in both training and test, so there "
            "is no MASE to judge it by"
        )
    gained = skill(scores["median_mase"], naive["median_mase"])
    if not gained > min_skill:
        return (
            f"version {version} fails the quality gate: median MASE {scores['median_mase']:.3f} against "
            f"{naive['model']}'s {naive['median_mase']:.3f} over the same {scores['sensors']} sensors is a skill of "
            f"{gained:.1%}, the gate asks for more than {min_skill:.1%}"
        )
    share = scores["share_beating_best_naive"]
    if share < min_share:
        return (
            f"version {version} fails the quality gate: it beats the best naive forecast on {share:.0%} of "
            f"{scores['sensors']} sensors, the gate asks for at least {min_share:.0%}"
        )
    return None


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
