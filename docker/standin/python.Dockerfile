# A stand-in for the official python:3.11.x-slim-bookworm image, for machines that reach no image
# registry (the compose tests): Debian bookworm's own Python 3.11 with venv, pip's ensurepip and
# the headers Horovod's build compiles against, `python` on PATH as in the official image.
# Built by `scripts/docker_engine.sh standin-bases` FROM a debootstrapped bookworm.
ARG DEBIAN_BASE_IMAGE=sensor-lstm-standin/debian:bookworm
FROM ${DEBIAN_BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV LANG=C.UTF-8
# A stand-in for tests takes what bookworm serves: unpinned on purpose.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev ca-certificates \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python3 \
    && rm -rf /var/lib/apt/lists/*
CMD ["python"]
