# syntax=docker/dockerfile:1
# gdpo (goodwe-dynamic-price-optimiser) image: the coordinator, SQLite by default,
# TimescaleDB support included (extras: timescaledb).
#
#   docker build -t gdpo .
#   docker run -d --name gdpo -v gdpo-data:/opt/goodwe-dynamic-price-optimiser/data gdpo
#
# or the whole stack with TimescaleDB and scheduled backups: see docker-compose.yml and
# docs/OPERATIONS.md.

# The base of both stages. For a reproducible build pin it by digest, looked up where a registry
# answers (`docker buildx imagetools inspect python:3.11-slim-bookworm`, or `skopeo inspect
# docker://docker.io/library/python:3.11-slim-bookworm`):
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: a self-contained venv
FROM ${PYTHON_IMAGE} AS build
ARG GDPO_EXTRAS=timescaledb
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A compiler for drivers without a wheel for the platform (asyncpg on 32-bit ARM); it stays in
# this stage, the runtime image has none. postgresql-client-15: its pg_dump, pg_restore and psql
# are copied into the runtime stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY core ./core
COPY backends ./backends
RUN python -m venv /opt/goodwe-dynamic-price-optimiser/venv \
 && /opt/goodwe-dynamic-price-optimiser/venv/bin/pip install --upgrade pip \
 && /opt/goodwe-dynamic-price-optimiser/venv/bin/pip install ".[${GDPO_EXTRAS}]" \
 && /opt/goodwe-dynamic-price-optimiser/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && find /opt/goodwe-dynamic-price-optimiser/venv -depth \( -name tests -path '*/numpy/*' -o -name '__pycache__' \) \
         -type d -exec rm -rf {} + \
 && /opt/goodwe-dynamic-price-optimiser/venv/bin/python -m compileall -q /opt/goodwe-dynamic-price-optimiser/venv \
 && /opt/goodwe-dynamic-price-optimiser/venv/bin/gdpo --version

# ---------------------------------------------------------------- runtime: no compiler, no root
FROM ${PYTHON_IMAGE} AS runtime
ARG GDPO_UID=10001
ARG GDPO_GID=10001
LABEL org.opencontainers.image.title="goodwe-dynamic-price-optimiser" \
      org.opencontainers.image.description="Coordinator for a GoodWe hybrid inverter with a home battery on Polish dynamic electricity prices" \
      org.opencontainers.image.licenses="Apache-2.0"

# pg_dump for `gdpo db backup` on TimescaleDB, pg_restore and psql for restores: bookworm's
# postgresql-client-15 (PostgreSQL 15, as the server), its binaries with the libraries they
# link, without the Perl wrappers of postgresql-client-common (50 MB of Perl).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libreadline8 liblz4-1 libzstd1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/postgresql/15/bin/pg_dump /usr/lib/postgresql/15/bin/pg_restore \
                  /usr/lib/postgresql/15/bin/psql /usr/lib/postgresql/15/bin/

RUN groupadd --system --gid "${GDPO_GID}" gdpo \
 && useradd --system --uid "${GDPO_UID}" --gid gdpo --home-dir /opt/goodwe-dynamic-price-optimiser \
            --no-create-home --shell /usr/sbin/nologin gdpo \
 && mkdir -p /opt/goodwe-dynamic-price-optimiser/data /opt/goodwe-dynamic-price-optimiser/backups \
             /opt/goodwe-dynamic-price-optimiser/config \
 && chown gdpo:gdpo /opt/goodwe-dynamic-price-optimiser/data /opt/goodwe-dynamic-price-optimiser/backups \
 && chmod 0700 /opt/goodwe-dynamic-price-optimiser/data /opt/goodwe-dynamic-price-optimiser/backups

COPY --from=build /opt/goodwe-dynamic-price-optimiser/venv /opt/goodwe-dynamic-price-optimiser/venv
COPY --chmod=0644 config/docker.yaml /opt/goodwe-dynamic-price-optimiser/config/master_coordinator_config.yaml
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/gdpo-entrypoint
COPY --chmod=0755 deploy/docker/backup-loop.sh /usr/local/bin/gdpo-backup-loop

ENV PATH=/opt/goodwe-dynamic-price-optimiser/venv/bin:/usr/lib/postgresql/15/bin:$PATH \
    GDPO_CONFIG=/opt/goodwe-dynamic-price-optimiser/config/master_coordinator_config.yaml \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /opt/goodwe-dynamic-price-optimiser
USER gdpo:gdpo
VOLUME ["/opt/goodwe-dynamic-price-optimiser/data"]

# `docker stop` sends SIGTERM to the coordinator itself (exec form, and the entry point execs):
# it stops an active grid charge, flushes the write pipeline and closes the database.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=60s --timeout=20s --start-period=120s --retries=3 \
  CMD ["gdpo", "health"]

ENTRYPOINT ["/usr/local/bin/gdpo-entrypoint"]
CMD ["gdpo", "run"]
