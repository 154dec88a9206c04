#!/usr/bin/env bash
# The airflow-init service: migrates Airflow's metadata database, sizes the Spark cores pool, then
# sets the UI login.
# Airflow 3.3's default simple auth manager takes its users from [core] simple_auth_manager_users
# and their plain-text passwords from the JSON file [core] simple_auth_manager_passwords_file,
# generating a random one for any user the file lacks. Writing the file here from
# AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD makes the login the one in .env, on every `up`.
set -euo pipefail

airflow db migrate

# The pool that stands for the Spark cluster's cores: each Spark task of the DAG takes one slot per
# core it may hold (dags/sensor_lstm_pipeline.py), so runs side by side queue here, not in Spark.
if [ "${SENSOR_LSTM_SPARK_CORES:-0}" -gt 0 ]; then
    airflow pools set spark_cores "$SENSOR_LSTM_SPARK_CORES" \
        "The Spark cluster's cores (SENSOR_LSTM_SPARK_CORES): a Spark task takes one slot per core" >/dev/null
fi

python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.touch(mode=0o600, exist_ok=True)
path.write_text(json.dumps({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
PY
echo "airflow-init: metadata database migrated; spark_cores pool: ${SENSOR_LSTM_SPARK_CORES:-0} slots (0: none);" \
    "UI login user '${AIRFLOW_ADMIN_USER}'"
