#!/usr/bin/env bash
# `make demo`: bootstrap, generate a sample, run the DAG over the sample's last day, summarize.
# Settings (all optional): SENSOR_LSTM_DEMO_START_DATE (first sample day, default 2026-11-20),
# SENSOR_LSTM_DEMO_DAYS (3), SENSOR_LSTM_DEMO_SENSORS (20), plus those of scripts/env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"

start_date=${SENSOR_LSTM_DEMO_START_DATE:-2026-11-20}
days=${SENSOR_LSTM_DEMO_DAYS:-3}
sensors=${SENSOR_LSTM_DEMO_SENSORS:-20}
mapfile -t sample_days < <(python -c '
import datetime, sys
first = datetime.date.fromisoformat(sys.argv[1])
print("\n".join(str(first + datetime.timedelta(days=n)) for n in range(int(sys.argv[2]))))' "$start_date" "$days")
last_day=${sample_days[-1]}

echo "== generating $sensors sensors x $days days at 60 s from $start_date into $SENSOR_LSTM_LAKE/landing"
python -m tools.generate_sensor_data --output-dir "$SENSOR_LSTM_LAKE/landing" --start-date "$start_date" \
    --days "$days" --sensors "$sensors" --interval-seconds 60 --bad-row-fraction 0.01

echo "== preparing Airflow's metadata database in $AIRFLOW_HOME"
airflow db migrate >"$SENSOR_LSTM_VAR/airflow-db-migrate.log" 2>&1 ||
    { tail -20 "$SENSOR_LSTM_VAR/airflow-db-migrate.log"; exit 1; }

# Runs the DAG for one day; extra arguments go to `airflow dags test`.
run_dag() {
    local day=$1; shift
    local log="$SENSOR_LSTM_VAR/demo-dag-run-$day.log"
    local conf
    conf=$(printf '{"day": "%s", "lookback_days": %d}' "$day" "$days")
    if ! airflow dags test sensor_lstm_pipeline -c "$conf" "$@" >"$log" 2>&1; then
        grep -E "ERROR|failed|Traceback" "$log" | tail -20
        echo "the DAG run for $day failed: see $log" >&2
        exit 1
    fi
}

# The lookback needs the earlier days' readings: ingest them first, as catchup would have.
for day in "${sample_days[@]:0:days-1}"; do
    echo "== airflow dags test sensor_lstm_pipeline for $day: ingest only (history)"
    run_dag "$day" --mark-success-pattern 'prepare_sequences|train_baseline|train_distributed|evaluate|forecast'
done
echo "== airflow dags test sensor_lstm_pipeline for $last_day: all tasks"
run_dag "$last_day"
python -m tools.pipeline_summary --lake "$SENSOR_LSTM_LAKE" --day "$last_day"
