# The two commands: `make demo` runs the pipeline on a generated sample, `make test` runs the tests.
# Both create the pinned environment on first use (scripts/bootstrap.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

env:  ## create or reuse the cached environment and print its path
	@scripts/bootstrap.sh

demo:  ## generate a sample and run the DAG over its last day with `airflow dags test`
	scripts/demo.sh

test:  ## run every test: unit, DAG, integration, the local stack and the compose stack (installs Docker where missing)
	scripts/test.sh

up:  ## start the local stack on 127.0.0.1 (Spark master + 2 workers, MLflow, Airflow), wait until healthy
	scripts/stack.sh up

down:  ## stop everything `make up` started
	scripts/stack.sh down

bench-prep:  ## time sequence prep against the collect_list + UDF recipe on ~2M readings
	scripts/bench_prep.sh

bench-train:  ## Horovod training throughput with 1 and 2 ranks (scaling efficiency, time to quality), and the baseline's
	scripts/bench_train.sh

bench-quality:  ## on real measured series: the models against naive forecasts and a single-process reference LSTM
	scripts/bench_quality.sh

bench-statistical:  ## the statistical models' stage on 1,000 sensors x 7 days of 60 s readings
	scripts/bench_statistical.sh

clean:  ## remove the local lake, Airflow home and MLflow store (not the cached environment)
	rm -rf var

.PHONY: help env demo test up down bench-prep bench-train bench-quality bench-statistical clean
