# Embedded defaults for running the project on one machine; source it with the environment's path:
#   source scripts/env.sh "$(scripts/bootstrap.sh)"
# Every setting keeps a value already in the environment, so the stack (or a user) can point the
# pipeline at a real Spark master, MLflow server or lake by exporting the variable first.
venv_dir=${1:?usage: source scripts/env.sh VENV_DIR}
project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

export SENSOR_LSTM_HOME=${SENSOR_LSTM_HOME:-$project_dir}
export SENSOR_LSTM_VAR=${SENSOR_LSTM_VAR:-$project_dir/var}
export SENSOR_LSTM_LAKE=${SENSOR_LSTM_LAKE:-$SENSOR_LSTM_VAR/lake}
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///$SENSOR_LSTM_VAR/mlflow.db}
export SENSOR_LSTM_MLFLOW_ARTIFACTS=${SENSOR_LSTM_MLFLOW_ARTIFACTS:-$SENSOR_LSTM_VAR/mlflow-artifacts}

export AIRFLOW_HOME=${AIRFLOW_HOME:-$SENSOR_LSTM_VAR/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=${AIRFLOW__CORE__DAGS_FOLDER:-$SENSOR_LSTM_HOME/dags}
export AIRFLOW__CORE__PLUGINS_FOLDER=${AIRFLOW__CORE__PLUGINS_FOLDER:-$SENSOR_LSTM_HOME/plugins}
export AIRFLOW__CORE__LOAD_EXAMPLES=${AIRFLOW__CORE__LOAD_EXAMPLES:-False}
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
# JSON form: the URI spark://local[*] is misparsed and the hook falls back to YARN.
export AIRFLOW_CONN_SPARK_DEFAULT=${AIRFLOW_CONN_SPARK_DEFAULT:-'{"conn_type": "spark", "host": "local[*]"}'}

# The Spark provider runs the bare `spark-submit` from PATH; drivers and executors use this Python.
export PATH=$venv_dir/bin:$PATH
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$venv_dir/bin/python}
export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$venv_dir/bin/python}
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
export PYTHONPATH=$SENSOR_LSTM_HOME${PYTHONPATH:+:$PYTHONPATH}
export TF_USE_LEGACY_KERAS=1
mkdir -p "$SENSOR_LSTM_VAR" "$AIRFLOW_HOME"
