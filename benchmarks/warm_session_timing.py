"""Times prepare_sequences and the collect_list recipe inside one warmed-up Spark application.

Both jobs pay the same fixed cost when submitted alone (JVM and session start-up, first-query
code generation: about 15 s here), which hides the cost of the work itself. This application
runs each job once on one day of the input to warm up, then times each on the whole input.

Example (what benchmarks/bench_prep.py runs):
    spark-submit benchmarks/warm_session_timing.py --lake var/bench/lake --run-date 2026-11-07 \\
        --lookback-days 7 --seq-len 24 --horizon 1 --recipe-output var/bench/recipe-out --result t.json
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

from benchmarks import collect_list_recipe
from sensor_lstm.job import spark_session
from sensor_lstm.settings import job_parser
from sensor_lstm.windows.prepare import prepare_sequences


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--lookback-days", type=int, required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--recipe-output", required=True)
    parser.add_argument("--result", required=True, help="JSON file for the timings")
    args = parser.parse_args(argv)
    window = [
        "--lake",
        args.lake,
        "--run-date",
        args.run_date,
        "--seq-len",
        str(args.seq_len),
        "--horizon",
        str(args.horizon),
    ]
    recipe_output = ["--output", args.recipe_output]

    spark = spark_session("warm_session_timing")
    timings = {}
    for phase, lookback in (("warm-up", 1), ("timed", args.lookback_days)):
        days = ["--lookback-days", str(lookback)]
        started = time.perf_counter()
        prepare_sequences(spark, job_parser("prepare_sequences", "").parse_args(window + days))
        prep_seconds = time.perf_counter() - started
        started = time.perf_counter()
        collect_list_recipe.run(spark, collect_list_recipe.parse_args(window + days + recipe_output))
        timings[phase] = {"prepare_sequences": prep_seconds, "collect_list_recipe": time.perf_counter() - started}
    spark.stop()
    with open(args.result, "w") as result:
        json.dump({"run_date": date.fromisoformat(args.run_date).isoformat(), **timings}, result, indent=2)


if __name__ == "__main__":
    main()
