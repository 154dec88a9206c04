#!/usr/bin/env bash
# The Spark history server of both stacks: it serves the Spark UI of every finished (and running)
# application from the event logs the DAG's jobs write, so a task's Spark UI can be opened after
# the fact. Usage: spark-history-server.sh PORT. From the environment:
#   SENSOR_LSTM_SPARK_EVENT_LOG_DIR         the event logs (default: _spark_events in the lake, as
#                                           the DAG's own default)
#   SENSOR_LSTM_SPARK_EVENT_LOG_MAX_AGE     event logs older than this are deleted (default 30d)
set -euo pipefail
port=${1:?usage: spark-history-server.sh PORT}
lake=${SENSOR_LSTM_LAKE:?set it to the lake}
event_logs=${SENSOR_LSTM_SPARK_EVENT_LOG_DIR:-file://$lake/_spark_events}

# The server refuses to start on a missing folder; the first job may not have run yet.
case $event_logs in
    file://*) mkdir -p "${event_logs#file://}" ;;
    *://*) ;;
    *) mkdir -p "$event_logs" ;;
esac
export SPARK_HISTORY_OPTS="-Dspark.history.fs.logDirectory=$event_logs -Dspark.history.ui.port=$port
    -Dspark.history.fs.cleaner.enabled=true -Dspark.history.fs.cleaner.maxAge=${SENSOR_LSTM_SPARK_EVENT_LOG_MAX_AGE:-30d}
    ${SPARK_HISTORY_OPTS:-}"
exec spark-class org.apache.spark.deploy.history.HistoryServer
