from types import SimpleNamespace

import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.evaluation.champion import champion_decision, check_models_named

PERSISTENCE_ROW = {"model": "persistence", "naive": True, "median_mase": 1.0, "sensors": 4}


def scores(median_mase: float | None, share: float = 1.0) -> dict:
    return {"median_mase": median_mase, "share_beating_best_naive": share, "sensors": 4}


def test_a_first_version_becomes_champion_only_past_the_quality_gate():
    better = {"version": 1, "scores": scores(0.8)}
    assert champion_decision(better, None, PERSISTENCE_ROW, 0.0, 0.5) == (
        True,
        "no champion yet: version 1 becomes the first (median MASE 0.800 against persistence's 1.000 over 4 sensors)",
    )
    worse = {"version": 1, "scores": scores(1.1)}
    assert champion_decision(worse, None, PERSISTENCE_ROW, 0.0, 0.5) == (
        False,
        (
            "version 1 fails the quality gate: median MASE 1.100 against persistence's 1.000 over the same 4 sensors "
            "is a skill of -10.0%, the gate asks for more than 0.0%"
        ),
    )
    # The margin: 20% better than persistence is not enough when the gate asks for 25%.
    promoted, reason = champion_decision(better, None, PERSISTENCE_ROW, 0.25, 0.5)
    assert not promoted and reason.endswith("is a skill of 20.0%, the gate asks for more than 25.0%")
    # Better in the median, but worse than doing nothing on three sensors of four.
    lopsided = {"version": 1, "scores": scores(0.8, share=0.25)}
    assert champion_decision(lopsided, None, PERSISTENCE_ROW, 0.0, 0.5) == (
        False,
        "version 1 fails the quality gate: it beats the best naive forecast on 25% of 4 sensors, the gate asks for "
        "at least 50%",
    )
    # Only stuck sensors: nothing to judge by, and no champion from it.
    promoted, reason = champion_decision({"version": 1, "scores": scores(None)}, None, None, 0.0, 0.5)
    assert not promoted and reason.endswith("so there is no MASE to judge it by")


def test_a_later_version_must_pass_the_gate_and_beat_the_champion_on_the_same_windows():
    champion = {"version": 3, "seq_len_matches": True, "scores": scores(1.2)}
    # Better than a champion that itself loses to persistence: still no.
    candidate = {"version": 5, "scores": scores(1.1)}
    promoted, reason = champion_decision(candidate, champion, PERSISTENCE_ROW, 0.0, 0.5)
    assert not promoted and reason.startswith("version 5 fails the quality gate: median MASE 1.100")
    candidate = {"version": 5, "scores": scores(0.8)}
    assert champion_decision(candidate, champion, PERSISTENCE_ROW, 0.0, 0.5) == (
        True,
        (
            "median MASE 0.800 beats champion version 3's 1.200 on the same windows (median MASE 0.800 against "
            "persistence's 1.000 over 4 sensors)"
        ),
    )
    stronger = {**champion, "scores": scores(0.6)}
    assert champion_decision(candidate, stronger, PERSISTENCE_ROW, 0.0, 0.5) == (
        False,
        "median MASE 0.800 does not beat champion version 3's 0.600 on the same windows",
    )
    assert champion_decision(candidate, {**champion, "version": 5}, PERSISTENCE_ROW, 0.0, 0.5) == (
        False,
        "version 5 already is the champion",
    )
    promoted, reason = champion_decision(candidate, {"version": 3, "seq_len_matches": False}, PERSISTENCE_ROW, 0.0, 0.5)
    assert not promoted and reason.startswith("champion version 3 takes windows of another length")


def test_a_backfill_never_takes_the_alias_from_a_champion_of_a_later_day_unless_asked():
    champion = {"version": 7, "run_day": "2026-11-25", "seq_len_matches": True, "scores": scores(1.2)}
    backfill = {"version": 8, "run_day": "2026-11-20", "scores": scores(0.8)}
    assert champion_decision(backfill, champion, PERSISTENCE_ROW, 0.0, 0.5) == (
        False,
        (
            "version 8 is for 2026-11-20, before champion version 7's 2026-11-25: a backfill does not replace a "
            "champion trained on newer data unless asked (Param promote_older_day)"
        ),
    )
    assert champion_decision(backfill, champion, PERSISTENCE_ROW, 0.0, 0.5, promote_older_day=True)[0] is True
    same_day = {**backfill, "run_day": "2026-11-25"}
    assert champion_decision(same_day, champion, PERSISTENCE_ROW, 0.0, 0.5)[0] is True


def test_evaluate_loads_only_versions_and_runs_of_its_own_model_named_in_the_reports():
    run_id = "0123456789abcdef0123456789abcdef"
    check_models_named(
        SimpleNamespace(model_name="sensor_lstm", model_version=3), SimpleNamespace(mlflow_run_id=run_id), "sensor_lstm"
    )
    with pytest.raises(JobInputError, match="names model 'someone_elses' version 3; this pipeline loads only"):
        check_models_named(
            SimpleNamespace(model_name="someone_elses", model_version=3),
            SimpleNamespace(mlflow_run_id=run_id),
            "sensor_lstm",
        )
    with pytest.raises(JobInputError, match=r"names run '../x', not a run id"):
        check_models_named(
            SimpleNamespace(model_name="sensor_lstm", model_version=3),
            SimpleNamespace(mlflow_run_id="../x"),
            "sensor_lstm",
        )
