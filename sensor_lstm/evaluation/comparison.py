"""The evaluation table and its unit-free summary, the way forecasters judge models: every model
and naive forecast scored per sensor on the same test windows (RMSE, MAE, MASE, and skill over
that sensor's best naive forecast), then the median MASE over sensors and the share of sensors
on which a model beats its best naive forecast. A sensor that never moves has no MASE (its scale
is 0) and would turn every aggregate into inf: it is listed apart, with its reason."""

from __future__ import annotations

import statistics

from sensor_lstm.scoring import skill

# Why a sensor stays out of the aggregates (it keeps its rows in the table).
CONSTANT_IN_TRAINING = "constant through the training period (MASE's scale is 0)"
NO_TRAINING_STEP = "no two consecutive readings in the training period (no MASE scale)"
EXACT_NAIVE_ON_TEST = "a naive forecast is exact on every test window (constant through the test period)"


def sensor_rows(scores: dict[tuple[str, str], dict], scales: dict[str, float | None], naive_names: set[str]) -> list:
    """One row per sensor and forecaster with a scored window, by sensor then forecaster: its
    windows, RMSE, MAE, MASE (MAE / ``scales``, the sensor's one-step naive MAE in training; None
    where that is 0 or unknown) and skill (1 - RMSE / the sensor's best naive RMSE; None where
    that is 0)."""
    best_naive_rmse: dict[str, float] = {}
    for (name, sensor), score in scores.items():
        if name in naive_names and "rmse" in score:
            best_naive_rmse[sensor] = min(score["rmse"], best_naive_rmse.get(sensor, score["rmse"]))
    rows = []
    for (name, sensor), score in sorted(scores.items(), key=lambda item: (item[0][1], item[0][0])):
        if "rmse" not in score:
            continue
        scale, best = scales.get(sensor), best_naive_rmse.get(sensor)
        rows.append(
            {
                "sensor_id": sensor,
                "forecaster": name,
                "naive": name in naive_names,
                "windows": score["windows"],
                "rmse": score["rmse"],
                "mae": score["mae"],
                "mase": score["mae"] / scale if scale else None,
                "skill": skill(score["rmse"], best) if best else None,
            }
        )
    return rows


def sensors_apart(rows: list[dict], scales: dict[str, float | None]) -> dict[str, str]:
    """The sensors that stay out of the aggregates, with the reason."""
    apart = {}
    for sensor in sorted({row["sensor_id"] for row in rows}):
        best = min((row["rmse"] for row in rows if row["sensor_id"] == sensor and row["naive"]), default=None)
        if scales.get(sensor) is None:
            apart[sensor] = NO_TRAINING_STEP
        elif scales[sensor] == 0:
            apart[sensor] = CONSTANT_IN_TRAINING
        elif best == 0:
            apart[sensor] = EXACT_NAIVE_ON_TEST
    return apart


def forecaster_rows(rows: list[dict], apart: dict[str, str], sources: dict[str, str], naive_names: set[str]) -> list:
    """The summary, one row per forecaster in ``sources``, best median MASE first: over the
    sensors not ``apart``, how many it scored, its windows, its median MASE, and (for models)
    the share of those sensors on which its RMSE beats the sensor's best naive forecast."""
    summary = []
    for name, source in sources.items():
        mine = [row for row in rows if row["forecaster"] == name and row["sensor_id"] not in apart]
        summary.append(
            {
                "model": name,
                "naive": name in naive_names,
                "source": source,
                "sensors": len(mine),
                "windows": sum(row["windows"] for row in rows if row["forecaster"] == name),
                "median_mase": statistics.median(row["mase"] for row in mine) if mine else None,
                "share_beating_best_naive": (
                    sum(row["skill"] > 0 for row in mine) / len(mine) if mine and name not in naive_names else None
                ),
            }
        )
    return sorted(summary, key=lambda row: (row["median_mase"] is None, row["median_mase"] or 0.0, row["model"]))


def best_naive(summary: list[dict]) -> dict | None:
    """The naive forecast with the lowest median MASE; None when no sensor could be aggregated."""
    scored = [row for row in summary if row["naive"] and row["median_mase"] is not None]
    return min(scored, key=lambda row: row["median_mase"]) if scored else None


def comparison_text(summary: list[dict]) -> str:
    lines = [f"{'forecaster':<22} {'median MASE':>11} {'beats naive':>11} {'sensors':>7} {'windows':>8}  source"]
    for row in summary:
        mase = f"{row['median_mase']:.3f}" if row["median_mase"] is not None else "-"
        share = row["share_beating_best_naive"]
        beats = f"{share:.0%}" if share is not None else "-"
        lines.append(
            f"{row['model']:<22} {mase:>11} {beats:>11} {row['sensors']:>7} {row['windows']:>8}  {row['source']}"
        )
    return "\n".join(lines)


def sensor_table_text(rows: list[dict], model: str, apart: dict[str, str], units: dict, limit: int = 10) -> str:
    """``model`` against each sensor's best naive forecast, worst sensors first (lowest skill),
    at most ``limit`` rows; the sensors apart last, with their reason."""
    by_sensor: dict[str, dict] = {}
    for row in rows:
        best = by_sensor.setdefault(row["sensor_id"], {})
        if row["forecaster"] == model:
            best["model"] = row
        elif row["naive"] and row["rmse"] < best.get("naive", {"rmse": float("inf")})["rmse"]:
            best["naive"] = row
    ranked = sorted(
        (sensor for sensor, pair in by_sensor.items() if "model" in pair and sensor not in apart),
        key=lambda sensor: (by_sensor[sensor]["model"]["skill"], sensor),
    )
    width = max([16, *(len(sensor) for sensor in by_sensor)])
    lines = [
        f"{'sensor':<{width}} {'unit':<8} {'windows':>7} {model + ' RMSE':>17} {'MASE':>7} {'best naive':<20} "
        f"{'its RMSE':>9} {'skill':>7}"
    ]
    for sensor in ranked[:limit]:
        mine, naive = by_sensor[sensor]["model"], by_sensor[sensor]["naive"]
        lines.append(
            f"{sensor:<{width}} {units.get(sensor) or '-':<8} {mine['windows']:>7} {mine['rmse']:>17.4g} "
            f"{mine['mase']:>7.3f} {naive['forecaster']:<20} {naive['rmse']:>9.4g} {mine['skill']:>7.1%}"
        )
    if len(ranked) > limit:
        lines.append(f"... and {len(ranked) - limit} more sensors, in the evaluation table")
    lines += [f"{sensor:<{width}} apart: {reason}" for sensor, reason in apart.items()]
    return "\n".join(lines)
