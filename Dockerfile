# One image for every role of the stack in docker-compose.yaml: the Airflow components (the
# scheduler's LocalExecutor runs the tasks, so its container is also the Spark driver in client
# mode and Horovod's driver), the Spark standalone master and workers (PySpark's own
# `spark-class`) and the MLflow tracking server. Driver and executors need the same Python,
# project path, Java, TensorFlow and Horovod, so they share this image.
#
#   docker build --build-arg SENSOR_LSTM_CODE_VERSION="$(git rev-parse HEAD)" -t sensor-lstm .
#
# Needs BuildKit (Docker 23 or newer) for the pip cache and secret mounts. The environment is built
# and checked by scripts/install_python_env.sh, the recipe scripts/bootstrap.sh runs too, with
# requirements-stack.txt instead of the test-only requirements-dev.txt.
#
# Build arguments and secrets (docker-compose.yaml passes them from .env):
#   PYTHON_BASE_IMAGE   the official Python image by default; machines that reach no image registry
#                       pass a local stand-in (`scripts/docker_engine.sh standin-bases`)
#   secret pip_ca_bundle  optional PEM bundle pip trusts instead of its own, for package indexes
#                       reached through a TLS-inspecting proxy: `--secret id=pip_ca_bundle,src=FILE`.
#                       Mounted only while pip runs; never part of a layer.

ARG PYTHON_BASE_IMAGE=python:3.11.16-slim-bookworm

# --- builder: the virtual environment, with Horovod compiled from source -------------------------
FROM ${PYTHON_BASE_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Horovod's build needs g++, make and a CMake 3.x: Debian's (3.25). CMake 4 from PyPI rejects
# gloo's CMakeLists. Versions are pinned to the release series so Debian's security updates apply.
RUN apt-get update \
    && apt-get install -y --no-install-recommends 'g++=4:12.2.*' 'make=4.3-*' 'cmake=3.25.*' \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY constraints.txt requirements.txt requirements-horovod.txt requirements-stack.txt ./
COPY scripts/install_python_env.sh scripts/

# The packages under constraints.txt, PySpark's own files put back over pyspark-client's, then
# Horovod compiled against that TensorFlow with gloo and without MPI (the script says why).
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=pip_ca_bundle \
    { [ ! -s /run/secrets/pip_ca_bundle ] || export PIP_CERT=/run/secrets/pip_ca_bundle; } \
    && scripts/install_python_env.sh install /opt/venv requirements-stack.txt

# --- runtime: Java 17 and the environment, no compilers ----------------------------------------
FROM ${PYTHON_BASE_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# PySpark 4 needs Java 17; Spark's launch scripts call ps (procps). The JRE's postinst links man
# pages into /usr/share/man/man1, which slim images leave out.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends 'openjdk-17-jre-headless=17.0.*' 'procps=2:4.0.*' \
    && rm -rf /var/lib/apt/lists/*

# One non-root user for every role; the folders that volumes mount over belong to it, so a new
# named volume starts out writable by it.
RUN groupadd --gid 50000 sensor \
    && useradd --no-log-init --uid 50000 --gid sensor --create-home --shell /bin/bash sensor \
    && install -d -o sensor -g sensor /opt/airflow /data/lake /data/mlflow-artifacts

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SENSOR_LSTM_HOME=/opt/sensor-lstm \
    SENSOR_LSTM_LAKE=/data/lake \
    PYTHONPATH=/opt/sensor-lstm \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark \
    TF_USE_LEGACY_KERAS=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/sensor-lstm/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/sensor-lstm/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

COPY --from=builder /opt/venv /opt/venv
COPY constraints.txt /opt/sensor-lstm/constraints.txt
COPY scripts/install_python_env.sh /opt/sensor-lstm/scripts/install_python_env.sh

# The checks scripts/bootstrap.sh makes, by the same script, on the shipped stage rather than the
# builder: pip check is clean, PySpark's own files are in place (the version constraints.txt
# pins), and Horovod loads with TensorFlow and Gloo, which also proves its libraries resolve
# without the builder's toolchain. Then Java.
RUN /opt/sensor-lstm/scripts/install_python_env.sh verify /opt/venv \
    && java -version

COPY . /opt/sensor-lstm

# Last, so a new code version only rebuilds this layer. tracking.code_version() falls back to
# `git`, which the image does not have: keep it non-empty.
ARG SENSOR_LSTM_CODE_VERSION=unknown
# MLflow asks GitPython for the commit, and without git it warns in every task log.
ENV SENSOR_LSTM_CODE_VERSION=${SENSOR_LSTM_CODE_VERSION} \
    GIT_PYTHON_REFRESH=quiet
LABEL org.opencontainers.image.title="sensor-lstm" \
      org.opencontainers.image.revision="${SENSOR_LSTM_CODE_VERSION}"

USER 50000:50000
WORKDIR /opt/sensor-lstm
CMD ["airflow", "version"]
