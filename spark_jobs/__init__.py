"""The pipeline's spark-submit applications, one per DAG task: each parses its arguments (from the
settings table), runs its stage from the sensor_lstm library and maps errors to exit codes."""
