from sensor_lstm.evaluation import comparison
from sensor_lstm.evaluation.champion import best_naive


def test_comparison_table_puts_the_best_first_with_skill_over_the_best_naive_forecast():
    scores = {
        "distributed": {"windows": 10, "rmse": 0.25, "mae": 0.2},
        "persistence": {"windows": 10, "rmse": 0.5, "mae": 0.4},
        "seasonal_naive_24": {"windows": 10, "rmse": 0.4, "mae": 0.3},
        "partition_baselines": {"windows": 0},
    }
    sources = {
        "distributed": "models:/m/2",
        "partition_baselines": "runs:/r/partition-*",
        "persistence": "the last input",
        "seasonal_naive_24": "the reading 24 steps before the target",
    }
    rows = comparison.comparison_rows(scores, sources, {"persistence", "seasonal_naive_24"})
    assert best_naive(rows)["model"] == "seasonal_naive_24"
    assert comparison.comparison_text(rows).splitlines() == [
        "model                   test RMSE   test MAE   skill  windows  source",
        "distributed                0.2500     0.2000   37.5%       10  models:/m/2",
        "seasonal_naive_24          0.4000     0.3000    0.0%       10  the reading 24 steps before the target",
        "persistence                0.5000     0.4000  -25.0%       10  the last input",
        "partition_baselines             -          -       -        0  runs:/r/partition-*",
    ]
