from sensor_lstm.statistical import candidates as cand


def test_hourly_data_over_weeks_gets_the_daily_and_weekly_seasons():
    chosen = cand.candidates([24], 3600, history_points=24 * 7 * 3)
    assert chosen.seasons == {"auto_ets": [24], "auto_arima": [24], "mstl": [24, 168]}
    assert chosen.left_out == {"season_168": "auto_ets and auto_arima take seasons up to 24 steps; mstl takes it"}


def test_a_season_without_two_cycles_of_history_is_left_out_saying_why():
    chosen = cand.candidates([24, 168], 3600, history_points=200)
    assert chosen.seasons == {"auto_ets": [24], "auto_arima": [24], "mstl": [24]}
    assert chosen.left_out == {"season_168": "200 readings of history hold fewer than 2 cycles of 168 steps"}


def test_minute_data_keeps_its_daily_season_for_mstl_only_and_no_season_means_no_mstl():
    chosen = cand.candidates([1440], 60, history_points=1440 * 3)
    assert chosen.seasons == {"auto_ets": [], "auto_arima": [], "mstl": [1440]}
    assert chosen.left_out["season_10080"] == "4320 readings of history hold fewer than 2 cycles of 10080 steps"
    # An 11-second grid has no whole number of steps in a week: no weekly season is tried.
    none = cand.candidates([], 11, history_points=100)
    assert none.seasons == {"auto_ets": [], "auto_arima": []}
    assert none.left_out == {"mstl": "no season with enough history to decompose"}


def test_only_the_models_asked_for_are_candidates_cheapest_first():
    chosen = cand.candidates([24], 3600, history_points=24 * 7 * 3, models=("mstl", "auto_ets"))
    assert list(chosen.seasons) == ["auto_ets", "mstl"]
    assert cand.candidates([24], 3600, history_points=10, models=()).seasons == {}
