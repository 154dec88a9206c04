import json
import os

from benchmarks.demo_timing import read_run, run_folder


def log_lines(*entries: tuple[str, str]) -> str:
    return "\n".join(json.dumps({"timestamp": stamp, "level": "info", "event": event}) for stamp, event in entries)


def write_task_log(run, task: str, attempt: int, text: str) -> None:
    folder = run / f"task_id={task}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"attempt={attempt}.log").write_text(text)


def test_each_task_s_start_seconds_and_spark_start_up_come_from_its_last_attempt_s_log(tmp_path):
    run = tmp_path / "run_id=manual__2026-12-06T22:48:36+00:00"
    write_task_log(
        run,
        "check_params",
        1,
        log_lines(("2026-12-06T22:48:37.000000Z", "start"), ("2026-12-06T22:48:40.500000Z", "end")),
    )
    write_task_log(run, "ingest", 1, log_lines(("2026-12-06T22:48:41.000000Z", "first try")))
    write_task_log(
        run,
        "ingest",
        2,
        "\n".join(
            [
                log_lines(("2026-12-06T22:48:45.000000Z", "::group::Pre Execute")),
                "not JSON: a line the supervisor wrote raw",
                log_lines(
                    (
                        "2026-12-06T22:48:51.500000Z",
                        "2026-12-06 22:48:51,500 INFO sensor_lstm.job: Spark application a",
                    ),
                    (
                        "2026-12-06T22:48:58.000000Z",
                        "2026-12-06 22:48:58,000 INFO sensor_lstm.job: Spark application b",
                    ),
                    ("2026-12-06T22:49:05.250000Z", "done"),
                ),
            ]
        ),
    )
    assert read_run(run) == [
        {"task": "check_params", "started_seconds": 0.0, "seconds": 3.5, "to_session_seconds": None},
        {"task": "ingest", "started_seconds": 8.0, "seconds": 20.25, "to_session_seconds": 6.5},
    ]


def test_the_dag_s_log_folder_stands_for_its_newest_run(tmp_path):
    newest, other = tmp_path / "run_id=a", tmp_path / "run_id=b"  # by time, not by name
    for folder, modified in ((newest, 2_000_000_000), (other, 1_000_000_000)):
        folder.mkdir()
        os.utime(folder, (modified, modified))
    assert run_folder(tmp_path) == newest
    assert run_folder(other) == other
