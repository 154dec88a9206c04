"""What train_distributed's Horovod ranks may see of the driver's environment: an allow-list, so
the ranks never get the Airflow secrets of the process that started the job."""

from __future__ import annotations

from collections.abc import Mapping

# What the ranks may see of the driver's environment: what they need to run, to read the lake and to
# reach MLflow (MLFLOW_TRACKING_USERNAME and _PASSWORD included) and its artifact store.
RANK_ENV_NAMES = frozenset(
    {
        "PATH",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONUNBUFFERED",
        "VIRTUAL_ENV",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "JAVA_HOME",
        "CLASSPATH",
        "LD_LIBRARY_PATH",
        "CUDA_VISIBLE_DEVICES",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)
RANK_ENV_PREFIXES = (
    "LC_",
    "TF_",
    "HOROVOD_",
    "GLOO_",
    "NCCL_",
    "OMP_",
    "KMP_",
    "MLFLOW_",
    "SENSOR_LSTM_",
    "SPARK_",
    "PYSPARK_",
    "HADOOP_",
    "ARROW_",
    "AWS_",
    "AZURE_STORAGE_",
)


def rank_environment(driver_env: Mapping[str, str]) -> dict[str, str | None]:
    """The environment horovod.spark.run ships to the ranks. Horovod's task service starts each
    rank with its executor's environment updated by this dict, where None removes a variable: so
    every variable of the driver's outside the allow-list is None (with a local master the
    executors inherited the driver's environment, Airflow's secrets included)."""
    return {
        name: value if name in RANK_ENV_NAMES or name.startswith(RANK_ENV_PREFIXES) else None
        for name, value in driver_env.items()
    }
