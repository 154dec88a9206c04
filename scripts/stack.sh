#!/usr/bin/env bash
# The docker-compose topology as local processes on 127.0.0.1, for machines without Docker:
# a Spark standalone master, two workers and a history server (PySpark's own spark-class), an MLflow tracking server
# (SQLite backend, served artifacts), Airflow's metadata database on a PostgreSQL server of its own
# (Debian's, on a socket in the stack's folder), and Airflow's api-server, scheduler (LocalExecutor),
# dag-processor and triggerer.
#
#   scripts/stack.sh up          start what is not running, wait until every service is healthy
#   scripts/stack.sh down        stop exactly what `up` started (every process it spawned)
#   scripts/stack.sh status      each service's pid and health
#   scripts/stack.sh exec CMD..  run CMD in the stack's environment, e.g. `airflow backfill create ...`
#
# Credentials, ports and worker sizes come from .env ($SENSOR_LSTM_ENV_FILE), the file
# docker-compose.yaml reads, parsed as Compose parses it (docker/settings.py); a variable already in
# the environment wins. Without one, the first command writes it: .env.example with fresh secrets.
# Like the compose stack, `up` refuses the example secrets unless SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS
# is true, and prints no password. State and logs live in $SENSOR_LSTM_VAR/stack (var/stack), the
# lake where the rest of the project keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
project_dir=$PWD

log() { echo "[stack] $*" >&2; }

venv=$(scripts/bootstrap.sh)
env_file=${SENSOR_LSTM_ENV_FILE:-.env}

load_settings() {
    if [ ! -f "$env_file" ]; then
        (umask 077 && "$venv/bin/python" docker/settings.py generate .env.example >"$env_file.tmp")
        mv "$env_file.tmp" "$env_file"
        log "no $env_file: wrote one from .env.example with fresh secrets (passwords and keys)"
    fi
    local settings
    settings=$("$venv/bin/python" docker/settings.py exports "$env_file")
    eval "$settings"
}

load_settings
export SENSOR_LSTM_VAR=${SENSOR_LSTM_VAR:-$project_dir/var}
stack_dir=$SENSOR_LSTM_VAR/stack
pid_dir=$stack_dir/pids
log_dir=$stack_dir/logs

# Where the UIs listen: this machine only, unless a wider address is asked for.
bind_address=${SENSOR_LSTM_BIND_ADDRESS:-127.0.0.1}
airflow_port=${AIRFLOW_UI_PORT:-8080}
mlflow_port=${MLFLOW_PORT:-5000}
spark_master_port=${SPARK_MASTER_PORT:-7077}
spark_master_ui_port=${SPARK_MASTER_UI_PORT:-8081}
spark_worker_ui_ports=("${SPARK_WORKER_1_UI_PORT:-8082}" "${SPARK_WORKER_2_UI_PORT:-8083}")
spark_history_ui_port=${SPARK_HISTORY_UI_PORT:-18080}
scheduler_health_port=${AIRFLOW_SCHEDULER_HEALTH_PORT:-8974}
spark_master_url=spark://127.0.0.1:$spark_master_port

# What docker-compose.yaml gives the Airflow containers, with 127.0.0.1 for the service names.
export AIRFLOW_HOME=$stack_dir/airflow
export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port
export AIRFLOW_CONN_SPARK_DEFAULT="{\"conn_type\": \"spark\", \"host\": \"spark://127.0.0.1\", \"port\": $spark_master_port}"
# MLflow's basic-auth app (docker/mlflow-server.sh): its admin is every client's login. The Spark
# workers, Airflow's task processes and spark-submit inherit it from here; Horovod's ranks from
# spark-submit's environment.
export MLFLOW_TRACKING_USERNAME=${MLFLOW_ADMIN_USER:?set it in $env_file (see .env.example)}
export MLFLOW_TRACKING_PASSWORD=${MLFLOW_ADMIN_PASSWORD:?set it in $env_file (see .env.example)}
export MLFLOW_AUTH_ADMIN_USERNAME=$MLFLOW_ADMIN_USER
export MLFLOW_AUTH_ADMIN_PASSWORD=$MLFLOW_ADMIN_PASSWORD
export MLFLOW_FLASK_SERVER_SECRET_KEY=${MLFLOW_FLASK_SECRET_KEY:?set it in $env_file (see .env.example)}
export MLFLOW_AUTH_DATABASE_URI=sqlite:///$stack_dir/mlflow-auth.db
export MLFLOW_AUTH_CONFIG_PATH=$stack_dir/mlflow-auth.ini
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
# PostgreSQL, as in the compose stack, not SQLite: on SQLite a transaction that has read and then
# writes fails at once with "database is locked" when another process committed in between, whatever
# the lock timeout, and the scheduler commits all the time (`airflow backfill create` failed so,
# leaving half a backfill behind). Airflow supports SQLite for a single process only.
postgres_data=$stack_dir/postgres
postgres_socket_dir=$stack_dir/postgres-socket
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-postgresql+psycopg2://airflow:${AIRFLOW_DB_PASSWORD:?set it in $env_file (see .env.example)}@/airflow?host=$postgres_socket_dir}
export AIRFLOW__CORE__FERNET_KEY=$AIRFLOW_FERNET_KEY
export AIRFLOW__API__SECRET_KEY=$AIRFLOW_API_SECRET_KEY
export AIRFLOW__API_AUTH__JWT_SECRET=$AIRFLOW_JWT_SECRET
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$airflow_port/execution/
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=$AIRFLOW_ADMIN_USER:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$AIRFLOW_HOME/simple_auth_manager_passwords.json
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=true
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST=127.0.0.1
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=$scheduler_health_port
export SENSOR_LSTM_CATCHUP=${SENSOR_LSTM_CATCHUP:-false}
# The two workers' cores: the size of the DAG's spark_cores pool, which airflow-init creates.
export SENSOR_LSTM_SPARK_CORES=${SENSOR_LSTM_SPARK_CORES:-$((2 * ${SPARK_WORKER_CORES:-2}))}
# Where each job's task log points for its Spark UI once it has ended.
export SENSOR_LSTM_SPARK_HISTORY_URL=${SENSOR_LSTM_SPARK_HISTORY_URL:-http://127.0.0.1:$spark_history_ui_port}

source scripts/env.sh "$venv"
# The tracking server stores artifacts (mlflow-artifacts:/ URIs): no local artifact root.
unset SENSOR_LSTM_MLFLOW_ARTIFACTS

# Debian's PostgreSQL server (scripts/bootstrap.sh installs it) keeps its programs off PATH; where
# `postgres` is on PATH (maybe a link), its clients are beside the program it runs.
if command -v postgres >/dev/null; then
    postgres_bin=$(dirname "$(readlink -f "$(command -v postgres)")")
else
    postgres_bin=$(find /usr/lib/postgresql -path '*/bin/postgres' 2>/dev/null | sort -V | tail -1 | xargs -r dirname)
fi
# PostgreSQL refuses to run as root. As root, its server runs as `nobody` in a user namespace that
# maps nobody back to root, so its files are root's and stay in the stack's folder, wherever that is.
as_postgres_owner=()
if [ "$(id -u)" = 0 ]; then
    as_postgres_owner=(unshare --user --map-user="$(id -u nobody)" --map-group="$(id -g nobody)")
fi

# Service names in start order; `down` stops them in reverse.
services=(postgres spark-master spark-worker-1 spark-worker-2 spark-history mlflow airflow-api-server airflow-scheduler
          airflow-dag-processor airflow-triggerer)

service_command() {
    case $1 in
        postgres)
            echo "${as_postgres_owner[@]}" "$postgres_bin/postgres" -D "$postgres_data" \
                -k "$postgres_socket_dir" -c listen_addresses= ;;
        spark-master)
            echo spark-class org.apache.spark.deploy.master.Master --host 127.0.0.1 \
                --port "$spark_master_port" --webui-port "$spark_master_ui_port" ;;
        spark-worker-[12])
            local n=${1##*-}
            echo spark-class org.apache.spark.deploy.worker.Worker --host 127.0.0.1 \
                --webui-port "${spark_worker_ui_ports[n-1]}" --work-dir "$stack_dir/$1" \
                --cores "${SPARK_WORKER_CORES:-2}" --memory "${SPARK_WORKER_MEMORY:-4g}" "$spark_master_url" ;;
        spark-history) echo bash docker/spark-history-server.sh "$spark_history_ui_port" ;;
        mlflow)
            echo bash docker/mlflow-server.sh --host "$bind_address" --port "$mlflow_port" --workers 1 \
                --backend-store-uri "sqlite:///$stack_dir/mlflow.db" \
                --serve-artifacts --artifacts-destination "$stack_dir/mlflow-artifacts" \
                --allowed-hosts "127.0.0.1:$mlflow_port,localhost:$mlflow_port" ;;
        airflow-api-server) echo airflow api-server --host "$bind_address" --port "$airflow_port" ;;
        airflow-scheduler) echo airflow scheduler ;;
        airflow-dag-processor) echo airflow dag-processor ;;
        airflow-triggerer) echo airflow triggerer ;;
    esac
}

# The check that says a service is ready (docker/healthcheck.py, as in docker-compose.yaml).
service_check() {
    local check=(python docker/healthcheck.py)
    case $1 in
        postgres) "$postgres_bin/pg_isready" -q -h "$postgres_socket_dir" -U airflow -d postgres ;;
        spark-master) "${check[@]}" spark-master "http://127.0.0.1:$spark_master_ui_port/json/" ;;
        spark-worker-[12]) "${check[@]}" spark-workers "http://127.0.0.1:$spark_master_ui_port/json/" "${1##*-}" ;;
        spark-history) "${check[@]}" http "http://127.0.0.1:$spark_history_ui_port/api/v1/applications?limit=1" ;;
        mlflow) "${check[@]}" http "http://127.0.0.1:$mlflow_port/health" ;;
        airflow-api-server) "${check[@]}" http "http://127.0.0.1:$airflow_port/api/v2/monitor/health" ;;
        airflow-scheduler) "${check[@]}" http "http://127.0.0.1:$scheduler_health_port/health" ;;
        airflow-dag-processor | airflow-triggerer)
            "${check[@]}" airflow "http://127.0.0.1:$airflow_port/api/v2/monitor/health" ;;
    esac
}

pid_of() { cat "$pid_dir/$1.pid" 2>/dev/null; }

running() {
    local pid
    pid=$(pid_of "$1") && kill -0 "$pid" 2>/dev/null
}

start() {
    local name=$1 command
    if running "$name"; then
        log "$name is already running (pid $(pid_of "$name"))"
        return
    fi
    read -ra command <<<"$(service_command "$name")"
    # Its own session, so `down` can find the service and everything it spawns.
    setsid "${command[@]}" >"$log_dir/$name.log" 2>&1 </dev/null &
    echo $! >"$pid_dir/$name.pid"
    log "started $name (pid $!): ${command[*]}"
}

wait_healthy() {
    local name=$1 deadline=$((SECONDS + ${SENSOR_LSTM_STACK_START_TIMEOUT:-300}))
    until service_check "$name" 2>/dev/null; do
        if ! running "$name"; then
            tail -30 "$log_dir/$name.log" >&2
            log "$name exited: see $log_dir/$name.log"
            return 1
        fi
        if ((SECONDS > deadline)); then
            service_check "$name" || true
            log "$name is not healthy after ${SENSOR_LSTM_STACK_START_TIMEOUT:-300} s: see $log_dir/$name.log"
            return 1
        fi
        sleep 2
    done
    log "$name is healthy"
}

# Sample readings for the demo's days, so a run triggered from the UI has data to work on: the
# generator's defaults are the demo's sample (DEMO_SAMPLE in sensor_lstm/tools/generate_sensor_data.py).
ensure_sample_data() {
    if compgen -G "$SENSOR_LSTM_LAKE/landing/sensor_readings_*.csv" >/dev/null; then return; fi
    log "no landing files in $SENSOR_LSTM_LAKE/landing: generating the demo's sample"
    local generated
    generated=$(python -m sensor_lstm.tools.generate_sensor_data --output-dir "$SENSOR_LSTM_LAKE/landing")
    log "$generated"
}

# The cluster once, its superuser `airflow` with AIRFLOW_DB_PASSWORD, as docker/postgres-init.sh has it.
init_postgres() {
    [ -f "$postgres_data/PG_VERSION" ] && return
    [ -x "$postgres_bin/initdb" ] || { log "no PostgreSQL server: run scripts/bootstrap.sh"; return 1; }
    local password_file=$stack_dir/postgres-password
    (umask 077 && printf '%s\n' "$AIRFLOW_DB_PASSWORD" >"$password_file")
    "${as_postgres_owner[@]}" "$postgres_bin/initdb" -D "$postgres_data" -U airflow --pwfile="$password_file" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C >"$log_dir/postgres-init.log" 2>&1 ||
        { rm -f "$password_file"; tail -30 "$log_dir/postgres-init.log" >&2; log "initdb failed"; return 1; }
    rm -f "$password_file"
}

create_airflow_database() {
    local sql=("$postgres_bin/psql" -q -h "$postgres_socket_dir" -U airflow -d postgres -tAc)
    export PGPASSWORD=$AIRFLOW_DB_PASSWORD
    [ "$("${sql[@]}" "SELECT 1 FROM pg_database WHERE datname = 'airflow'")" = 1 ] ||
        "${sql[@]}" "CREATE DATABASE airflow"
    unset PGPASSWORD
}

up() {
    python docker/settings.py check-secrets .env.example || return 1
    mkdir -p "$pid_dir" "$log_dir" "$AIRFLOW_HOME" "$postgres_socket_dir"
    ensure_sample_data
    init_postgres && start postgres && wait_healthy postgres && create_airflow_database || return 1
    start spark-master && wait_healthy spark-master
    start spark-worker-1 && start spark-worker-2 && start spark-history && start mlflow
    wait_healthy spark-worker-1 && wait_healthy spark-worker-2 && wait_healthy spark-history && wait_healthy mlflow
    # airflow-init's work, as in the compose stack: migrate the database, write the UI login.
    bash docker/airflow-init.sh >"$log_dir/airflow-init.log" 2>&1 ||
        { tail -30 "$log_dir/airflow-init.log" >&2; log "airflow-init failed"; return 1; }
    start airflow-api-server && wait_healthy airflow-api-server
    start airflow-scheduler && start airflow-dag-processor && start airflow-triggerer
    wait_healthy airflow-scheduler && wait_healthy airflow-dag-processor && wait_healthy airflow-triggerer
    cat <<EOF

Local stack is up (state and logs in $stack_dir):
  Airflow UI     http://127.0.0.1:$airflow_port   login $AIRFLOW_ADMIN_USER, password AIRFLOW_ADMIN_PASSWORD in $env_file
  MLflow UI      http://127.0.0.1:$mlflow_port   login $MLFLOW_ADMIN_USER, password MLFLOW_ADMIN_PASSWORD in $env_file
  Spark master   http://127.0.0.1:$spark_master_ui_port   ($spark_master_url)
  Spark workers  http://127.0.0.1:${spark_worker_ui_ports[0]}  http://127.0.0.1:${spark_worker_ui_ports[1]}
  Spark history  $SENSOR_LSTM_SPARK_HISTORY_URL   (finished applications' Spark UIs)
  Lake           $SENSOR_LSTM_LAKE
  Airflow's DB   PostgreSQL, socket in $postgres_socket_dir, database airflow, user airflow
Airflow CLI against it: scripts/stack.sh exec airflow dags list.  Stop it: make down
EOF
}

# A process and all its descendants, parents first.
process_tree() {
    local child
    echo "$1"
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do process_tree "$child"; done
}

# Every process of the service's session and every descendant of its leader: tasks that Airflow
# or Spark start in sessions of their own are still descendants.
service_processes() {
    local pid=$1
    { process_tree "$pid"; ps -o pid= -s "$pid" 2>/dev/null; } | awk '{print $1}' | sort -u
}

any_alive() {
    local pid
    for pid; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

stop() {
    local name=$1 pid processes
    pid=$(pid_of "$name") || return 0
    mapfile -t processes < <(service_processes "$pid")
    if ((${#processes[@]})); then
        # PostgreSQL's server stops its own processes; SIGINT is its fast shutdown.
        if [ "$name" = postgres ]; then kill -INT "$pid" 2>/dev/null || true; else kill -TERM "${processes[@]}" 2>/dev/null || true; fi
        local deadline=$((SECONDS + 30))
        while ((SECONDS < deadline)) && any_alive "${processes[@]}"; do sleep 1; done
        kill -KILL "${processes[@]}" 2>/dev/null || true
    fi
    rm -f "$pid_dir/$name.pid"
    log "stopped $name (${#processes[@]} processes)"
}

down() {
    local index
    for ((index = ${#services[@]} - 1; index >= 0; index--)); do stop "${services[index]}"; done
}

status() {
    local name health
    for name in "${services[@]}"; do
        if ! running "$name"; then
            printf '%-24s %s\n' "$name" "stopped"
            continue
        fi
        health=unhealthy
        service_check "$name" 2>/dev/null && health=healthy
        printf '%-24s pid %-8s %s\n' "$name" "$(pid_of "$name")" "$health"
    done
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    exec) shift; exec "$@" ;;
    *) echo "usage: scripts/stack.sh up|down|status|exec COMMAND..." >&2; exit 2 ;;
esac
