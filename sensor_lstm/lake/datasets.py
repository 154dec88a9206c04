"""The lake's datasets, by name: ``<lake>/<name>/date=<day>/``. Each has one writer, the job named
beside it; every other job, the DAG and the tools name them through these constants."""

LANDING = "landing"  # the deliveries, one per UTC day, not partitioned
LANDING_FILES = ("sensor_readings_{day}.csv", "sensor_readings_{day}.csv.gz")  # {day}: YYYY-MM-DD
LANDING_HEADER = "sensor_id,timestamp,reading"  # a landing file's first line
SENSOR_CATALOG = "catalog/sensors.csv"  # optional, written by the user: units, valid ranges, sentinels
READINGS = "readings"  # ingest
QUARANTINE = "quarantine/ingest"  # ingest: every rejected line with its reason
SEQUENCES = "sequences"  # prepare_sequences: windows, under split=<train|validation|test>/
SEQUENCE_STATS = "sequence_stats"  # prepare_sequences: each sensor's training mean and std
STATISTICAL_FORECASTS = "statistical_forecasts"  # fit_statistical: one-step forecasts at sampled targets
TRAINED = "trained/train_distributed"  # train_distributed: a fit kept until its model is registered
EVALUATION = "evaluation"  # evaluate: every model and naive forecast scored per sensor on the test windows
FORECASTS = "forecasts"  # forecast
FORECAST_ACCURACY = "forecast_accuracy"  # evaluate: earlier forecasts due on the run day, against its readings
REPORTS = "reports"  # every job's report.json, under <job>/date=<day>/
SPARK_EVENTS = "_spark_events"  # every job's Spark event log, for the history server

# The readings' columns (plus the ``date`` partition), as ingest writes them.
READINGS_SCHEMA = "sensor_id string, timestamp timestamp, reading double"
# The quarantine's columns (plus ``date``, the landing file's day).
QUARANTINE_SCHEMA = "source_file string, line_text string, reason string"
