#!/usr/bin/env bash
# Runs once, when the postgres container starts on an empty data volume (mounted into
# /docker-entrypoint-initdb.d): one role and one database each for Airflow and MLflow, with the
# passwords from the environment (see .env.example).
set -eo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v airflow_password="${AIRFLOW_DB_PASSWORD:?}" -v mlflow_password="${MLFLOW_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE mlflow OWNER mlflow;
SQL
