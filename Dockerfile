# syntax=docker/dockerfile:1
# The API server image: dependencies from requirements.lock (hashes checked), the source,
# a non-root user. Build: docker build -t taskgraph . ; run: see docs/OPERATIONS.md.
FROM python:3.12-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock /tmp/requirements.lock
# Exactly the locked versions, each checked against its hash; nothing resolved at build time.
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock

FROM python:3.12-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY config ./config
COPY domain ./domain
COPY persistence ./persistence
COPY auth ./auth
COPY audit ./audit
COPY graph ./graph
COPY observability ./observability
COPY realtime ./realtime
COPY migrations ./migrations
COPY seeds ./seeds
COPY deploy/entrypoint.sh ./deploy/entrypoint.sh
# Production by default. The drain settings: SIGTERM first serves with /readyz at 503 for
# SHUTDOWN_DRAIN_SECONDS, then uvicorn waits GRACEFUL_SHUTDOWN_SECONDS for requests in flight;
# drain + grace + 3 s must stay under the orchestrator's kill timeout (compose: stop_grace_period).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    SHUTDOWN_DRAIN_SECONDS=5 \
    GRACEFUL_SHUTDOWN_SECONDS=20 \
    FORWARDED_ALLOW_IPS=127.0.0.1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
