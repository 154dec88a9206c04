# A stand-in for the official postgres image, for machines that reach no image registry (the
# compose tests): Debian bookworm's PostgreSQL 15 behind an entrypoint that keeps the part of the
# official image's contract docker-compose.yaml relies on (see postgres-entrypoint.sh).
# Built by `scripts/docker_engine.sh standin-bases` FROM a debootstrapped bookworm.
ARG DEBIAN_BASE_IMAGE=sensor-lstm-standin/debian:bookworm
FROM ${DEBIAN_BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The package creates a cluster of its own; the entrypoint makes the one in PGDATA instead.
# A stand-in for tests takes what bookworm serves: unpinned on purpose.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && pg_dropcluster --stop 15 main \
    && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8 \
    PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
