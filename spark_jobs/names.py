"""The MLflow names the pipeline's jobs and its DAG share. Nothing is imported here, so the DAG
(which imports no job code) can import it, and so can every job."""

EXPERIMENT = "sensor_lstm_pipeline"  # the MLflow experiment of every run
MODEL_NAME = "sensor_lstm"  # the registered model train_distributed adds versions to
CHAMPION_ALIAS = "champion"  # the registry alias of the version that forecasts
