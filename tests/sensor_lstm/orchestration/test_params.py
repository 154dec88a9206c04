from datetime import UTC, date, datetime
from types import SimpleNamespace

from sensor_lstm.orchestration.params import param_problems, param_schema, run_day, trigger_form
from sensor_lstm.settings import BY_NAME, DEFAULTS, PARAMS

DEFAULT_PARAMS = {setting.name: setting.default for setting in PARAMS}


def test_params_that_do_not_fit_together_are_refused_before_any_job():
    today = date(2026, 11, 27)
    assert param_problems(DEFAULT_PARAMS, today, cluster_cores=4) == []
    refused = DEFAULT_PARAMS | {
        "day": "2026-11-28",
        "train_fraction": 0.8,
        "validation_fraction": 0.2,
        "seq_len": 4000,
        "horizon": 320,
        "seasonal_periods": [24, 4320],
        "reading_min": 5,
        "reading_max": 5,
        "num_proc": 3,
        "threads_per_rank": 2,
    }
    assert param_problems(refused, today, cluster_cores=4) == [
        "day 2026-11-28 is in the future (today is 2026-11-27 UTC)",
        "train_fraction + validation_fraction + calibration_fraction must be below 1, leaving test windows; got "
        "0.8 + 0.2 + 0.1",
        "a window and its target (seq_len + horizon = 4320 readings, 259200 s) do not fit in the lookback (3 days)",
        "seasonal period 4320 readings is as long as the lookback or longer",
        "reading_min (5) must be below reading_max (5)",
        "train_distributed needs num_proc x threads_per_rank = 6 cores at once; the cluster has 4 "
        "(SENSOR_LSTM_SPARK_CORES)",
    ]
    assert param_problems(refused | {"num_proc": 64}, today, cluster_cores=0)[-1].startswith("reading_min")
    assert param_problems(refused | {"num_proc": "auto", "auto_max_ranks": 3}, today, cluster_cores=4)[-1] == (
        "train_distributed needs auto_max_ranks x threads_per_rank = 6 cores at once; the cluster has 4 "
        "(SENSOR_LSTM_SPARK_CORES)"
    )
    assert param_problems(refused | {"num_proc": "three"}, today, cluster_cores=4)[-1] == (
        "num_proc not an integer or auto: 'three'"
    )
    assert param_problems(refused | {"num_proc": "65"}, today, cluster_cores=0)[-1] == (
        "num_proc must be at most 64, got 65"
    )


def test_a_params_schema_comes_from_its_setting():
    assert param_schema(BY_NAME["num_proc"]) == {
        "type": ["integer", "string"],
        "minimum": 1,
        "maximum": 64,
        "pattern": "^(auto|[0-9]+)$",
        "section": "Model and training",
        "description": BY_NAME["num_proc"].help,
    }
    assert param_schema(BY_NAME["seasonal_periods"]) | {"description": ""} == {
        "type": ["null", "array"],
        "items": {"type": "integer", "minimum": 1},
        "section": "Windows",
        "description": "",
    }
    assert param_schema(BY_NAME["day"])["type"] == ["null", "string"]
    assert param_schema(BY_NAME["day"])["format"] == "date"


def test_the_trigger_form_has_every_param_in_the_tables_order_with_its_default():
    form = trigger_form()
    assert list(form) == [setting.name for setting in PARAMS]
    assert {name: param.value for name, param in form.items()} == {
        setting.name: DEFAULTS[setting.name] for setting in PARAMS
    }
    assert [form[name].schema["section"] for name in ("day", "seq_len", "lstm_units", "forecast_steps")] == [
        "Run",
        "Windows",
        "Model and training",
        "Champion and forecasts",
    ]
    assert form["seq_len"].description == "Readings per input window."


def test_the_run_day_is_the_day_param_then_the_data_interval_then_the_day_before_the_trigger():
    triggered = SimpleNamespace(run_after=datetime(2026, 11, 27, 9, 30, tzinfo=UTC))
    assert run_day({"day": "2026-10-03"}, datetime(2026, 11, 25, tzinfo=UTC), triggered) == "2026-10-03"
    assert run_day({}, datetime(2026, 11, 25, tzinfo=UTC), triggered) == "2026-11-25"
    assert run_day({"day": None}, None, triggered) == "2026-11-26"
