"""The spark-submit applications: each is a thin ``main`` over the library, its arguments the
settings table's."""

import importlib
import inspect

import pytest

from sensor_lstm import job
from sensor_lstm.names import JOBS
from sensor_lstm.settings import job_settings


@pytest.mark.parametrize("name", JOBS)
def test_each_job_is_a_main_that_parses_the_tables_arguments_and_runs_a_library_stage(name, capsys):
    module = importlib.import_module(f"spark_jobs.{name}")
    own = [
        member
        for member, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    ]
    assert own == ["main"]
    with pytest.raises(SystemExit) as exited:
        module.main(["--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert module.__doc__.splitlines()[0] in printed and "Example:" in printed
    assert all(setting.flag in printed for setting in job_settings(name))


def test_bad_arguments_exit_with_code_2_in_one_line_before_any_spark_session(capsys, monkeypatch):
    from spark_jobs import evaluate

    monkeypatch.setattr(job, "spark_session", lambda name: pytest.fail("a session was started"))
    with pytest.raises(SystemExit) as exited:
        evaluate.main(["--lake", "/lake", "--run-date", "2026-11-25", "--forecast-steps", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "evaluate.py: error: argument --forecast-steps: must be at least 1, got 0"
    )
