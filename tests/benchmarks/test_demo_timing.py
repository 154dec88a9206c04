from benchmarks.demo_timing import task_timings

LOG = """\
2026-12-06T19:02:51.000000Z [info     ] [DAG TEST] starting task_id=check_params map_index=-1
2026-12-06T19:02:55.500000Z [info     ] [DAG TEST] end task task_id=check_params map_index=-1
2026-12-06T19:02:55.500000Z [info     ] [DAG TEST] starting task_id=ingest map_index=-1
  a continuation line without a time stamp
2026-12-06T19:03:02.000000Z [info     ] 2026-12-06 19:03:02,000 INFO sensor_lstm.job: Spark application local-1: log
2026-12-06T19:03:09.000000Z [info     ] 2026-12-06 19:03:09,000 INFO sensor_lstm.job: Spark application local-1: again
2026-12-06T19:03:15.250000Z [info     ] [DAG TEST] end task task_id=ingest map_index=-1
"""


def test_each_task_s_seconds_and_its_spark_jobs_start_up_come_from_the_dag_test_log():
    assert task_timings(LOG.splitlines()) == [
        {"task": "check_params", "seconds": 4.5, "to_session_seconds": None},
        {"task": "ingest", "seconds": 19.75, "to_session_seconds": 6.5},
    ]
