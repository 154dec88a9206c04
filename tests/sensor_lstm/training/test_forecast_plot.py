import io

import numpy as np

from sensor_lstm.training import forecast_plot, shards


def test_the_forecast_plot_draws_any_sensor_id_as_plain_text():
    # "$...$" is matplotlib math text: an id like this one used to crash the plot after training.
    sensors = np.array(["x$^$y", "x$^$y", "s_1"])
    windows = shards.Windows(
        x=np.zeros((3, 2, 1), np.float32),
        y=np.array([0.0, 1.0, 2.0], np.float32),
        mean=np.zeros(3),
        std=np.ones(3),
        one_step_naive_rmse=np.full(3, 0.1),
        sensor_id=sensors,
        target_time=np.array(["2026-11-25T00:00", "2026-11-25T00:01", "2026-11-25T00:00"], dtype="datetime64[s]"),
    )
    figure = forecast_plot.forecast_plot(windows, np.array([0.5, 1.5, 2.5]), sensors=3)
    figure.savefig(io.BytesIO(), format="png")
    assert [axis.get_title() for axis in figure.axes] == ["x$^$y", "s_1"]
