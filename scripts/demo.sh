#!/usr/bin/env bash
# `make demo`: bootstrap, generate a sample, run the DAG over the sample's last day, summarize.
# The sample is sensor_lstm/tools/generate_sensor_data.py's DEMO_SAMPLE, its command line's defaults. Settings
# (all optional) override some of it: SENSOR_LSTM_DEMO_START_DATE (first sample day),
# SENSOR_LSTM_DEMO_DAYS, SENSOR_LSTM_DEMO_SENSORS; plus SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS and those of
# scripts/env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"
# The demo's jobs are short and its data small: a driver JVM with the serial collector that never
# runs its optimizing compiler spends about 40% less CPU on each (36 s to 18 s of CPU for
# prepare_sequences), though it is 40% slower on 2 million readings (benchmarks/README.md).
export SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS=${SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS--XX:+UseSerialGC -XX:TieredStopAtLevel=1}

# Where the demo's time goes once the environment exists, phase by phase; printed at the end.
phase_started=$(date +%s%N)
phases=()
end_phase() {
    local now
    now=$(date +%s%N)
    phases+=("$(printf '  %-50s %6.1f s' "$1" "$(((now - phase_started) / 1000000))e-3")")
    phase_started=$now
}
demo_started=$phase_started

landing=$SENSOR_LSTM_LAKE/landing
overrides=()
[ -z "${SENSOR_LSTM_DEMO_START_DATE:-}" ] || overrides+=(--start-date "$SENSOR_LSTM_DEMO_START_DATE")
[ -z "${SENSOR_LSTM_DEMO_DAYS:-}" ] || overrides+=(--days "$SENSOR_LSTM_DEMO_DAYS")
[ -z "${SENSOR_LSTM_DEMO_SENSORS:-}" ] || overrides+=(--sensors "$SENSOR_LSTM_DEMO_SENSORS")

echo "== generating the demo's sample into $landing"
python -m sensor_lstm.tools.generate_sensor_data --output-dir "$landing" "${overrides[@]}"
# The sample's days, from the manifest the generator just wrote.
mapfile -t sample_days < <(python -c '
import json, sys
from datetime import date, timedelta
manifest = json.load(open(sys.argv[1]))
first = date.fromisoformat(manifest["start_date"])
print("\n".join(str(first + timedelta(days=n)) for n in range(manifest["days"])))' "$landing/_generation-manifest.json")
days=${#sample_days[@]}
last_day=${sample_days[-1]}
end_phase "generating the sample"

echo "== preparing Airflow's metadata database in $AIRFLOW_HOME"
airflow db migrate >"$SENSOR_LSTM_VAR/airflow-db-migrate.log" 2>&1 ||
    { tail -20 "$SENSOR_LSTM_VAR/airflow-db-migrate.log"; exit 1; }
end_phase "airflow db migrate"

# `airflow dags test --use-executor` runs the tasks the DAG lets run side by side (train_baseline,
# train_distributed and fit_statistical) through the LocalExecutor, whose task processes report to
# an API server: one on a free loopback port for the demo's run, started while the history is
# ingested, stopped on exit.
api_port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$api_port/execution/
api_server_log=$SENSOR_LSTM_VAR/demo-api-server.log
airflow api-server --host 127.0.0.1 --port "$api_port" >"$api_server_log" 2>&1 &
api_server=$!
trap 'kill "$api_server" 2>/dev/null || true; wait "$api_server" 2>/dev/null || true' EXIT
# MLflow's store created before three jobs open it at once: on a new SQLite file each would run its
# schema migrations, and they collide.
mlflow_store_log=$SENSOR_LSTM_VAR/demo-mlflow-store.log
python -c 'import mlflow; mlflow.MlflowClient().search_experiments(max_results=1)' >"$mlflow_store_log" 2>&1 &
mlflow_store=$!

task_logs=$AIRFLOW_HOME/logs/dag_id=sensor_lstm_pipeline
# Runs the DAG for one day; extra arguments go to `airflow dags test`.
run_dag() {
    local day=$1; shift
    local log="$SENSOR_LSTM_VAR/demo-dag-run-$day.log"
    local conf
    conf=$(printf '{"day": "%s", "lookback_days": %d}' "$day" "$days")
    if ! airflow dags test sensor_lstm_pipeline -c "$conf" --use-executor "$@" >"$log" 2>&1; then
        grep -E "ERROR|state=(failed|upstream_failed)|Traceback" "$log" | tail -20
        echo "the DAG run for $day failed: see $log and its task logs in $task_logs" >&2
        exit 1
    fi
}

# The lookback needs the earlier days' readings. A backfill would ingest them day by day; the demo
# runs the same ingest job once over all of them (--days), which saves a start of Airflow and of
# Spark per day.
if [ "$days" -gt 1 ]; then
    echo "== ingesting the history, ${sample_days[0]} to ${sample_days[days-2]}, with spark_jobs/ingest.py"
    history_log="$SENSOR_LSTM_VAR/demo-ingest-history.log"
    if ! spark-submit --master "local[*]" --conf spark.sql.session.timeZone=UTC --conf spark.log.level=WARN \
        --conf spark.ui.enabled=false --conf "spark.driver.extraJavaOptions=$SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS" \
        spark_jobs/ingest.py --lake "$SENSOR_LSTM_LAKE" \
        --run-date "${sample_days[0]}" --days $((days - 1)) >"$history_log" 2>&1; then
        tail -20 "$history_log"
        echo "ingesting the history failed: see $history_log" >&2
        exit 1
    fi
    end_phase "ingesting the history"
fi
python - "$api_port" "$api_server" "$api_server_log" <<'EOF'
import os, sys, time, urllib.request
port, pid, log = sys.argv[1:]
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
        sys.exit(0)
    except OSError:
        try:
            os.kill(int(pid), 0)
        except OSError:
            break
        time.sleep(0.5)
sys.exit(f"Airflow's API server did not start on port {port}: see {log}")
EOF
wait "$mlflow_store" || { tail -20 "$mlflow_store_log"; echo "MLflow's store $MLFLOW_TRACKING_URI failed" >&2; exit 1; }
end_phase "waiting for Airflow's API server, MLflow's store"
echo "== airflow dags test --use-executor sensor_lstm_pipeline for $last_day: all tasks"
run_dag "$last_day"
end_phase "airflow dags test, all tasks"
python -m sensor_lstm.tools.pipeline_summary --lake "$SENSOR_LSTM_LAKE" --day "$last_day"
end_phase "the summary"
echo "== the demo's time once the environment exists: $(((phase_started - demo_started) / 1000000000)) s"
printf '%s\n' "${phases[@]}"
python -m benchmarks.demo_timing "$task_logs"
