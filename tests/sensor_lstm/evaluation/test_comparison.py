import pytest

from sensor_lstm.evaluation import comparison

NAIVE = {"persistence", "seasonal_naive_24"}
SOURCES = {
    "distributed": "models:/m/2",
    "partition_baselines": "runs:/r/partition-*",
    "persistence": "the last input",
    "seasonal_naive_24": "the reading 24 steps before the target",
}


def scored(rmse: float, mae: float, windows: int = 10) -> dict:
    return {"windows": windows, "rmse": rmse, "mae": mae}


# Sensor "hot" reads in the thousands, "cold" in tenths: a pooled RMSE would be all "hot".
SCORES = {
    ("distributed", "hot"): scored(100.0, 80.0),
    ("persistence", "hot"): scored(200.0, 150.0),
    ("seasonal_naive_24", "hot"): scored(400.0, 300.0),
    ("distributed", "cold"): scored(0.3, 0.25),
    ("persistence", "cold"): scored(0.2, 0.15),
    ("seasonal_naive_24", "cold"): scored(0.25, 0.2),
    ("distributed", "mild"): scored(1.0, 0.5),
    ("persistence", "mild"): scored(2.0, 1.0),
    ("seasonal_naive_24", "mild"): scored(4.0, 2.0),
    ("distributed", "stuck"): scored(0.1, 0.1),
    ("persistence", "stuck"): scored(0.0, 0.0),
    ("seasonal_naive_24", "stuck"): scored(0.0, 0.0),
    ("partition_baselines", "hot"): {"windows": 0},
}
SCALES = {"hot": 100.0, "cold": 0.1, "mild": 1.0, "stuck": 0.0}


def test_every_sensor_gets_mase_over_its_training_scale_and_skill_over_its_own_best_naive_forecast():
    rows = comparison.sensor_rows(SCORES, SCALES, NAIVE)
    by_key = {(row["sensor_id"], row["forecaster"]): row for row in rows}
    assert [key for key in by_key if key[0] == "cold"] == [
        ("cold", "distributed"),
        ("cold", "persistence"),
        ("cold", "seasonal_naive_24"),
    ]
    assert by_key["hot", "distributed"] == {
        "sensor_id": "hot",
        "forecaster": "distributed",
        "naive": False,
        "windows": 10,
        "rmse": 100.0,
        "mae": 80.0,
        "mase": 0.8,
        "skill": 0.5,
    }
    assert by_key["cold", "distributed"]["mase"] == pytest.approx(2.5)
    assert by_key["cold", "distributed"]["skill"] == pytest.approx(-0.5)
    # The stuck sensor has no scale and a perfect naive forecast: neither MASE nor skill, not inf.
    assert (by_key["stuck", "distributed"]["mase"], by_key["stuck", "distributed"]["skill"]) == (None, None)
    assert ("hot", "partition_baselines") not in by_key


def test_the_summary_is_the_median_mase_and_the_share_of_sensors_beaten_leaving_stuck_ones_apart():
    rows = comparison.sensor_rows(SCORES, SCALES, NAIVE)
    apart = comparison.sensors_apart(rows, SCALES | {"new": None})
    assert apart == {"stuck": comparison.CONSTANT_IN_TRAINING}
    assert comparison.sensors_apart(rows, {**SCALES, "stuck": 0.5}) == {"stuck": comparison.EXACT_NAIVE_ON_TEST}
    assert comparison.sensors_apart(rows, {**SCALES, "stuck": None}) == {"stuck": comparison.NO_TRAINING_STEP}
    summary = comparison.forecaster_rows(rows, apart, SOURCES, NAIVE)
    # MASE per sensor (hot, cold, mild): distributed 0.8, 2.5, 0.5; persistence 1.5, 1.5, 1.0;
    # seasonal naive 3.0, 2.0, 2.0. The model beats the best naive forecast on hot and mild.
    assert [(row["model"], row["median_mase"], row["sensors"]) for row in summary] == [
        ("distributed", pytest.approx(0.8), 3),
        ("persistence", pytest.approx(1.5), 3),
        ("seasonal_naive_24", pytest.approx(2.0), 3),
        ("partition_baselines", None, 0),
    ]
    assert summary[0]["share_beating_best_naive"] == pytest.approx(2 / 3)
    assert summary[0]["windows"] == 40 and summary[1]["share_beating_best_naive"] is None
    assert comparison.best_naive(summary)["model"] == "persistence"
    assert comparison.comparison_text(summary).splitlines() == [
        "forecaster             median MASE beats naive sensors  windows  source",
        "distributed                  0.800         67%       3       40  models:/m/2",
        "persistence                  1.500           -       3       40  the last input",
        "seasonal_naive_24            2.000           -       3       40  the reading 24 steps before the target",
        "partition_baselines              -           -       0        0  runs:/r/partition-*",
    ]
    assert comparison.best_naive(comparison.forecaster_rows(rows, dict.fromkeys(SCALES, "x"), SOURCES, NAIVE)) is None


def test_the_sensor_table_puts_the_worst_sensors_first_and_the_stuck_ones_apart():
    rows = comparison.sensor_rows(SCORES, SCALES, NAIVE)
    apart = comparison.sensors_apart(rows, SCALES)
    text = comparison.sensor_table_text(rows, "distributed", apart, {"hot": "W/m2"}, limit=2)
    assert text.splitlines() == [
        "sensor           unit     windows  distributed RMSE    MASE best naive            its RMSE   skill",
        "cold             -             10               0.3   2.500 persistence                0.2  -50.0%",
        "hot              W/m2          10               100   0.800 persistence                200   50.0%",
        "... and 1 more sensors, in the evaluation table",
        f"stuck            apart: {comparison.CONSTANT_IN_TRAINING}",
    ]
