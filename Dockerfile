# syntax=docker/dockerfile:1
# Steward: one image for every role (`bot run --role=all|gateway|worker`). See docker-compose.yml and docs/scaling.md.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the package needs: tests, bench and docs stay out of the image (.dockerignore).
COPY pyproject.toml README.md cli.py ./
COPY bot ./bot
COPY cogs ./cogs
COPY queue_backends ./queue_backends
# A venv copied whole into the runtime stage; [speed] adds uvloop, which `bot run` uses when present.
RUN python -m venv /opt/steward \
    && /opt/steward/bin/pip install ".[speed]"

FROM python:3.12-slim
# Non-root: the bot needs no privileges, only its data directory (SQLite for --role=all, nothing for Postgres).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/steward steward \
    && mkdir /data && chown steward:steward /data
COPY --from=build /opt/steward /opt/steward
ENV PATH=/opt/steward/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STEWARD_BOT__DATA_DIR=/data \
    STEWARD_METRICS__PORT=9108
WORKDIR /data
VOLUME ["/data"]
USER steward
# /metrics and /healthz (every role); not published unless you map it.
EXPOSE 9108
# /healthz is 503 while the gateway is disconnected or a worker stopped consuming; urlopen raises on 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('STEWARD_METRICS__PORT', '9108'), timeout=4)"]
# SIGTERM: stop taking jobs, let in-flight ones finish (queue.shutdown_grace, default 20 s), then exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["bot"]
CMD ["run", "--role=all"]
