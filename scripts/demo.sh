#!/usr/bin/env bash
# `make demo`: bootstrap, generate a sample, run the DAG over the sample's last day, summarize.
# The sample is sensor_lstm/tools/generate_sensor_data.py's DEMO_SAMPLE, its command line's defaults. Settings
# (all optional) override some of it: SENSOR_LSTM_DEMO_START_DATE (first sample day),
# SENSOR_LSTM_DEMO_DAYS, SENSOR_LSTM_DEMO_SENSORS; plus those of scripts/env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"

# Where the demo's time goes once the environment exists, phase by phase; printed at the end.
phase_started=$(date +%s%N)
phases=()
end_phase() {
    local now
    now=$(date +%s%N)
    phases+=("$(printf '  %-40s %6.1f s' "$1" "$(((now - phase_started) / 1000000))e-3")")
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

# The lookback needs the earlier days' readings. A backfill would ingest them day by day; the demo
# runs the same ingest job once over all of them (--days), which saves a start of Airflow and of
# Spark per day.
if [ "$days" -gt 1 ]; then
    echo "== ingesting the history, ${sample_days[0]} to ${sample_days[days-2]}, with spark_jobs/ingest.py"
    history_log="$SENSOR_LSTM_VAR/demo-ingest-history.log"
    if ! spark-submit --master "local[*]" --conf spark.sql.session.timeZone=UTC --conf spark.log.level=WARN \
        --conf spark.ui.enabled=false spark_jobs/ingest.py --lake "$SENSOR_LSTM_LAKE" \
        --run-date "${sample_days[0]}" --days $((days - 1)) >"$history_log" 2>&1; then
        tail -20 "$history_log"
        echo "ingesting the history failed: see $history_log" >&2
        exit 1
    fi
    end_phase "ingesting the history"
fi
echo "== airflow dags test sensor_lstm_pipeline for $last_day: all tasks"
run_dag "$last_day"
end_phase "airflow dags test, all tasks"
python -m sensor_lstm.tools.pipeline_summary --lake "$SENSOR_LSTM_LAKE" --day "$last_day"
end_phase "the summary"
echo "== the demo's time once the environment exists: $(((phase_started - demo_started) / 1000000000)) s"
printf '%s\n' "${phases[@]}"
echo "  (python -m benchmarks.demo_timing $SENSOR_LSTM_VAR/demo-dag-run-$last_day.log splits the DAG run by task)"
