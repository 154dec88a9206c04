import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from sensor_lstm.statistical.fit import FitSetup
from sensor_lstm.statistical.stage import statistical_forecasts

pytest.importorskip("statsforecast")

START = datetime(2026, 1, 1)


def micros(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def test_every_sensor_is_fitted_in_its_own_group_and_a_short_one_says_why_it_has_no_mstl(spark):
    rng = np.random.default_rng(2)
    rows = [
        ("cycle", START + timedelta(hours=h), float(10 + 3 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 0.2)))
        for h in range(24 * 8)
    ]
    # 30 hours before the cut: fewer than two daily cycles, so no season and no MSTL.
    rows += [("short", START + timedelta(hours=h), float(h % 5)) for h in range(24 * 7 - 30, 24 * 8)]
    readings = spark.createDataFrame(rows, "sensor_id string, timestamp timestamp, reading double")
    hour = lambda h: micros(START + timedelta(hours=h))  # noqa: E731
    setup = FitSetup(3_600_000_000, hour(168), {"test": (hour(168), hour(192))}, (24,), 168, 4)
    out = statistical_forecasts(readings, setup).toPandas()
    fits = {(r.sensor_id, r.model): json.loads(r.fit) for r in out[out.target_time.isna()].itertuples()}
    assert set(fits) == {
        ("cycle", "auto_ets"),
        ("cycle", "auto_arima"),
        ("cycle", "mstl"),
        ("short", "auto_ets"),
        ("short", "auto_arima"),
        ("short", "mstl"),
    }
    assert fits["short", "mstl"] == {"not_fitted": "no season with enough history to decompose"}
    assert fits["cycle", "mstl"]["seasons"] == [24]
    scored = out[out.target_time.notna()]
    assert scored.groupby("sensor_id").size().to_dict() == {"cycle": 3 * 4, "short": 2 * 4}
