from types import SimpleNamespace

import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.evaluation.champion import champion_decision, check_models_named

PERSISTENCE_ROW = {"model": "persistence", "naive": True, "rmse": 0.5, "windows": 100}


def test_a_first_version_becomes_champion_only_past_the_quality_gate():
    better = {"version": 1, "scores": {"rmse": 0.4, "windows": 100}}
    assert champion_decision(better, None, PERSISTENCE_ROW, 0.0) == (
        True,
        "no champion yet: version 1 becomes the first (skill 20.0% over persistence)",
    )
    worse = {"version": 1, "scores": {"rmse": 0.55, "windows": 100}}
    assert champion_decision(worse, None, PERSISTENCE_ROW, 0.0) == (
        False,
        (
            "version 1 fails the quality gate: test RMSE 0.5500 against persistence's 0.5000 on the same 100 windows "
            "is a skill of -10.0%, the gate asks for more than 0.0%"
        ),
    )
    # The margin: 20% better than persistence is not enough when the gate asks for 25%.
    promoted, reason = champion_decision(better, None, PERSISTENCE_ROW, 0.25)
    assert not promoted and reason.endswith("is a skill of 20.0%, the gate asks for more than 25.0%")


def test_a_later_version_must_pass_the_gate_and_beat_the_champion_on_the_same_windows():
    champion = {"version": 3, "seq_len_matches": True, "scores": {"rmse": 0.6, "windows": 100}}
    # Better than a champion that itself loses to persistence: still no.
    candidate = {"version": 5, "scores": {"rmse": 0.55, "windows": 100}}
    promoted, reason = champion_decision(candidate, champion, PERSISTENCE_ROW, 0.0)
    assert not promoted and reason.startswith("version 5 fails the quality gate: test RMSE 0.5500")
    candidate = {"version": 5, "scores": {"rmse": 0.4, "windows": 100}}
    assert champion_decision(candidate, champion, PERSISTENCE_ROW, 0.0) == (
        True,
        ("test RMSE 0.4000 beats champion version 3's 0.6000 on the same 100 windows (skill 20.0% over persistence)"),
    )
    stronger = {**champion, "scores": {"rmse": 0.3, "windows": 100}}
    assert champion_decision(candidate, stronger, PERSISTENCE_ROW, 0.0) == (
        False,
        "test RMSE 0.4000 does not beat champion version 3's 0.3000 on the same 100 windows",
    )
    assert champion_decision(candidate, {**champion, "version": 5}, PERSISTENCE_ROW, 0.0) == (
        False,
        "version 5 already is the champion",
    )
    promoted, reason = champion_decision(candidate, {"version": 3, "seq_len_matches": False}, PERSISTENCE_ROW, 0.0)
    assert not promoted and reason.startswith("champion version 3 takes windows of another length")


def test_a_backfill_never_takes_the_alias_from_a_champion_of_a_later_day_unless_asked():
    champion = {"version": 7, "run_day": "2026-11-25", "seq_len_matches": True, "scores": {"rmse": 0.6, "windows": 100}}
    backfill = {"version": 8, "run_day": "2026-11-20", "scores": {"rmse": 0.4, "windows": 100}}
    assert champion_decision(backfill, champion, PERSISTENCE_ROW, 0.0) == (
        False,
        (
            "version 8 is for 2026-11-20, before champion version 7's 2026-11-25: a backfill does not replace a "
            "champion trained on newer data unless asked (Param promote_older_day)"
        ),
    )
    assert champion_decision(backfill, champion, PERSISTENCE_ROW, 0.0, promote_older_day=True)[0] is True
    same_day = {**backfill, "run_day": "2026-11-25"}
    assert champion_decision(same_day, champion, PERSISTENCE_ROW, 0.0)[0] is True


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
