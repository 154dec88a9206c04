"""Health checks of the stack's services (docker-compose.yaml), on the standard library alone: the
image has no curl. Exit status 0 is healthy, 1 unhealthy (with the reason on stderr).

    python docker/healthcheck.py http URL                 URL answers with a 2xx status
    python docker/healthcheck.py spark-master URL         the master's JSON status (URL) is ALIVE
    python docker/healthcheck.py spark-worker URL HOST    the master's JSON status (URL) lists an
                                                          ALIVE worker on HOST: it has registered
    python docker/healthcheck.py spark-workers URL N      ... lists at least N ALIVE workers (the
                                                          local stack's share one host)
    python docker/healthcheck.py airflow URL              Airflow's /api/v2/monitor/health (URL)
                                                          reports every component healthy
"""

from __future__ import annotations

import json
import sys
import urllib.request

TIMEOUT_SECONDS = 5


def fetch(url: str) -> bytes:
    """The body of a 2xx answer; urllib raises on anything else."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        return response.read()


def master_alive(state: dict) -> bool:
    return state.get("status") == "ALIVE"


def worker_registered(state: dict, host: str) -> bool:
    return any(worker.get("host") == host and worker.get("state") == "ALIVE" for worker in state.get("workers", []))


def alive_workers(state: dict) -> int:
    return sum(worker.get("state") == "ALIVE" for worker in state.get("workers", []))


AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def airflow_unhealthy(health: dict) -> list[str]:
    """The components whose status is not "healthy" (never having started counts as unhealthy)."""
    return [name for name in AIRFLOW_COMPONENTS if (health.get(name) or {}).get("status") != "healthy"]


def main(argv: list[str]) -> int:
    kind, url, *rest = argv
    try:
        body = fetch(url)
        if kind == "http":
            return 0
        state = json.loads(body)
        if kind == "spark-master":
            healthy = master_alive(state)
        elif kind == "spark-worker":
            (host,) = rest
            healthy = worker_registered(state, host)
        elif kind == "spark-workers":
            (count,) = rest
            healthy = alive_workers(state) >= int(count)
        elif kind == "airflow":
            rest = airflow_unhealthy(state)
            healthy = not rest
        else:
            print(f"unknown check {kind!r}", file=sys.stderr)
            return 1
    except Exception as error:  # any failure to answer is unhealthy, never a crash with status 2
        print(f"{kind} {url}: {error}", file=sys.stderr)
        return 1
    if not healthy:
        print(f"{kind} {url} {' '.join(rest)}: not ready", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
