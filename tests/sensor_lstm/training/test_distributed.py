import subprocess
import sys

import pytest

from sensor_lstm.errors import StageFailed
from sensor_lstm.training import distributed
from sensor_lstm.training.distributed import train_distributed
from tests.support.jobs import job_args
from tests.support.mlflow_server import free_port


def test_the_driver_ships_the_rank_entry_point_without_loading_tensorflow():
    # A fresh interpreter: this one has TensorFlow loaded by other tests.
    driver = (
        "import pickle, sys; import horovod.spark, mlflow; from sensor_lstm.training import distributed, rank_entry; "
        "assert pickle.loads(pickle.dumps(rank_entry.train)) is rank_entry.train; "
        "print(sorted(name for name in ('tensorflow', 'tf_keras', 'keras', 'horovod.tensorflow') "
        "if name in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_ranks_must_end_with_the_same_weights_and_only_rank_0_logs():
    agreeing = [{"weights_digest": "a", "logged_to_mlflow": True}, {"weights_digest": "a", "logged_to_mlflow": False}]
    distributed.check_ranks_agree(agreeing)
    with pytest.raises(RuntimeError, match="different weights"):
        distributed.check_ranks_agree([agreeing[0], {**agreeing[1], "weights_digest": "b"}])
    with pytest.raises(RuntimeError, match="rank 0 alone"):
        distributed.check_ranks_agree([agreeing[0], {**agreeing[1], "logged_to_mlflow": True}])


def test_a_rerun_day_keeps_one_version_and_never_deletes_one_holding_an_alias(tmp_path):
    import mlflow

    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", registry_uri=f"sqlite:///{tmp_path}/mlflow.db"
    )
    client.create_registered_model("m")
    for day in ("2026-11-24", "2026-11-25", "2026-11-25", "2026-11-25"):
        client.create_model_version("m", source=str(tmp_path / "model"), tags={"run_day": day})
    client.set_registered_model_alias("m", "champion", "2")

    retired = distributed.retire_superseded_versions(client, "m", "2026-11-25", keep_version=4)

    assert retired == {"deleted": [3], "kept_with_alias": [2]}
    assert sorted(int(version.version) for version in client.search_model_versions("name = 'm'")) == [1, 2, 4]
    assert client.get_model_version("m", "2").tags["superseded_by"] == "4"


def test_a_tracking_server_that_is_down_fails_the_job_before_it_starts_ranks(spark, tmp_path, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    args = job_args("train_distributed", "--lake", str(tmp_path), "--run-date", "2026-11-25")
    with pytest.raises(StageFailed, match=f"^MLflow tracking server {uri} is unreachable: "):
        train_distributed(spark, args)  # the lake is empty: reading it would have failed otherwise


def test_a_kept_fit_is_named_by_its_windows_files_and_the_settings_that_shape_it():
    settings = {"seq_len": 6, "lstm_units": 4, "num_proc": 2}
    key = distributed.trained_key(settings, "a" * 32)
    assert len(key) == 16 and key == distributed.trained_key(dict(reversed(settings.items())), "a" * 32)
    assert distributed.trained_key({**settings, "num_proc": 4}, "a" * 32) != key
    assert distributed.trained_key(settings, "b" * 32) != key
