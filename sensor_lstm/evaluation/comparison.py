"""The comparison table: every model and naive forecast on the same test windows, best first, with
its skill (1 - RMSE / the best naive forecast's)."""

from __future__ import annotations

from sensor_lstm.evaluation.champion import best_naive
from sensor_lstm.scoring import skill


def comparison_rows(scores: dict, sources: dict, naive_names: set[str]) -> list[dict]:
    """The table, best test RMSE first; a model with no scored window goes last. Skill is
    1 - RMSE / the best naive forecast's RMSE, on the same windows."""
    rows = [
        {"model": name, "naive": name in naive_names, "source": sources[name], **scores.get(name, {"windows": 0})}
        for name in sources
    ]
    baseline = best_naive(rows)["rmse"]
    for row in rows:
        if "rmse" in row:
            row["skill"] = skill(row["rmse"], baseline)
    return sorted(rows, key=lambda row: (row.get("rmse") is None, row.get("rmse") or 0.0, row["model"]))


def comparison_text(rows: list[dict]) -> str:
    lines = [f"{'model':<22} {'test RMSE':>10} {'test MAE':>10} {'skill':>7} {'windows':>8}  source"]
    for row in rows:
        rmse = f"{row['rmse']:.4f}" if "rmse" in row else "-"
        mae = f"{row['mae']:.4f}" if "mae" in row else "-"
        skill = f"{row['skill']:.1%}" if "skill" in row else "-"
        lines.append(f"{row['model']:<22} {rmse:>10} {mae:>10} {skill:>7} {row['windows']:>8}  {row['source']}")
    return "\n".join(lines)
