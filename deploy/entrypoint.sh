#!/bin/sh
# Container entrypoint: empty the metrics directory (values of an earlier run would be
# summed in), then uvicorn in the foreground with the drain and worker settings of the
# environment. Any argument replaces the server: `alembic upgrade head`, `python -m seeds`.
set -eu
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec uvicorn graph.app:app \
  --host 0.0.0.0 --port "${PORT:-8000}" \
  --workers "${WEB_CONCURRENCY:-2}" \
  --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-20}" \
  --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
  --no-server-header
