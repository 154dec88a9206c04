#!/usr/bin/env bash
# The MLflow tracking server of both stacks, behind MLflow's own basic-auth app: every request but
# /health and the static files needs a user of its auth store (401 without one). Arguments go to
# `mlflow server`. From the environment:
#   MLFLOW_AUTH_DATABASE_URI        the auth store (SQLAlchemy URL): users, roles and permissions
#   MLFLOW_AUTH_ADMIN_USERNAME, MLFLOW_AUTH_ADMIN_PASSWORD
#                                   the admin the app creates on its first start against an empty
#                                   auth store (MLflow reads these itself; once the user exists a
#                                   new password here changes nothing: use MLflow's update-password
#                                   API, or a new auth store)
#   MLFLOW_FLASK_SERVER_SECRET_KEY  the app's static secret (CSRF of its user-admin form)
#   MLFLOW_AUTH_CONFIG_PATH         where to write the app's config (default: a new private folder)
# Clients send the admin's login as MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
set -euo pipefail
: "${MLFLOW_AUTH_DATABASE_URI:?set it to the auth store database URL}"

umask 077
export MLFLOW_AUTH_CONFIG_PATH=${MLFLOW_AUTH_CONFIG_PATH:-$(mktemp -d)/basic_auth.ini}
# READ: a signed-in user reads what no permission says otherwise (MLflow's default). Credentials
# that passed the password hash check are cached for 5 minutes per worker: without the cache every
# request of a training job costs the server a PBKDF2 hash (seconds on a busy 2-core machine).
# configparser treats % as interpolation: double it in the URL.
cat >"$MLFLOW_AUTH_CONFIG_PATH" <<EOF
[mlflow]
default_permission = READ
database_uri = ${MLFLOW_AUTH_DATABASE_URI//%/%%}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 300
EOF
exec mlflow server --app-name basic-auth "$@"
