"""The names the DAG, the jobs and the tools share: the DAG, its jobs and the MLflow entities.

Nothing is imported here, so the DAG (which imports no job code) can import it.
"""

DAG_ID = "sensor_lstm_pipeline"

# The spark-submit applications, spark_jobs/<job>.py, each run by the DAG's task of the same name.
INGEST = "ingest"
PREPARE_SEQUENCES = "prepare_sequences"
TRAIN_BASELINE = "train_baseline"
TRAIN_DISTRIBUTED = "train_distributed"
FIT_STATISTICAL = "fit_statistical"
EVALUATE = "evaluate"
FORECAST = "forecast"
JOBS = (INGEST, PREPARE_SEQUENCES, TRAIN_BASELINE, TRAIN_DISTRIBUTED, FIT_STATISTICAL, EVALUATE, FORECAST)
TRAININGS = (TRAIN_BASELINE, TRAIN_DISTRIBUTED)

EXPERIMENT = "sensor_lstm_pipeline"  # the MLflow experiment of every run
MODEL_NAME = "sensor_lstm"  # the registered model train_distributed adds versions to
CHAMPION_ALIAS = "champion"  # the registry alias of the version that forecasts
