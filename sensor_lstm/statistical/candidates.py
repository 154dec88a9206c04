"""Which statistical forecasters a sensor gets, from the run's seasons and its history: AutoETS
and AutoARIMA on the main season, MSTL on every season plus a weekly one where the history spans
two weeks. A season a model cannot take is left out of it, saying why. statsforecast is imported
only where the models are built."""

from __future__ import annotations

from dataclasses import dataclass, field

WEEK_SECONDS = 7 * 86400
# statsforecast's AutoETS fits no seasonal component past 24 steps (it falls back to none, silently),
# and a seasonal AutoARIMA's fit grows with the season: both take the main season up to this.
MAX_ETS_ARIMA_SEASON = 24
# A season is estimable with at least two whole cycles of history.
CYCLES_NEEDED = 2
AUTO_ETS, AUTO_ARIMA, MSTL_MODEL = "auto_ets", "auto_arima", "mstl"
# Cheapest first: a sensor's time budget runs out on the dearest.
MODELS = (AUTO_ETS, AUTO_ARIMA, MSTL_MODEL)


@dataclass
class Candidates:
    """Per model name, the seasons (in grid steps) it takes; the seasons left out and why."""

    seasons: dict[str, list[int]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)


def usable_seasons(seasonal_lags: list[int], interval_seconds: int, history_points: int) -> tuple[list[int], dict]:
    """The run's seasons (grid steps), plus a weekly one where the history spans two weeks, each
    kept when the history holds CYCLES_NEEDED cycles of it; the others, by name, and why."""
    seasons = sorted({lag for lag in seasonal_lags if lag > 1})
    weekly = WEEK_SECONDS // interval_seconds if WEEK_SECONDS % interval_seconds == 0 else None
    if weekly and weekly not in seasons:
        seasons.append(weekly)
    kept, why_not = [], {}
    for season in seasons:
        if history_points >= CYCLES_NEEDED * season:
            kept.append(season)
        else:
            why_not[f"season_{season}"] = (
                f"{history_points} readings of history hold fewer than {CYCLES_NEEDED} cycles of {season} steps"
            )
    return kept, why_not


def candidates(
    seasonal_lags: list[int], interval_seconds: int, history_points: int, models: tuple[str, ...] = MODELS
) -> Candidates:
    """Which of ``models`` a sensor with ``history_points`` training readings gets, cheapest
    first, and their seasons."""
    seasons, left_out = usable_seasons(seasonal_lags, interval_seconds, history_points)
    short = [season for season in seasons if season <= MAX_ETS_ARIMA_SEASON]
    main = short[:1]
    for season in seasons:
        if season > MAX_ETS_ARIMA_SEASON:
            left_out.setdefault(
                f"season_{season}",
                f"{AUTO_ETS} and {AUTO_ARIMA} take seasons up to {MAX_ETS_ARIMA_SEASON} steps; {MSTL_MODEL} takes it",
            )
    chosen = Candidates({name: main for name in MODELS if name in models and name != MSTL_MODEL}, left_out)
    if MSTL_MODEL in models and seasons:
        chosen.seasons[MSTL_MODEL] = seasons
    elif MSTL_MODEL in models:
        left_out[MSTL_MODEL] = "no season with enough history to decompose"
    return chosen


def build(name: str, seasons: list[int]):
    """The statsforecast model for a candidate."""
    from statsforecast.models import MSTL, AutoARIMA, AutoETS

    season = seasons[0] if seasons else 1
    if name == AUTO_ETS:
        return AutoETS(season_length=season)
    if name == AUTO_ARIMA:
        return AutoARIMA(season_length=season, approximation=True, max_p=3, max_q=3, max_P=1, max_Q=1)
    if name == MSTL_MODEL:
        return MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
    raise ValueError(f"unknown statistical forecaster {name!r}")
