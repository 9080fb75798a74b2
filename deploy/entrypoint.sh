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
# WebSockets without permessage-deflate: its zlib state costs about 40 KB per idle
# subscription and the events are small JSON (docs/REALTIME.md, Scaling).
exec uvicorn graph.app:app \
  --host 0.0.0.0 --port "${PORT:-8000}" \
  --workers "${WEB_CONCURRENCY:-2}" \
  --ws websockets-sansio --ws-per-message-deflate "${WS_PER_MESSAGE_DEFLATE:-false}" \
  --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-20}" \
  --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
  --no-server-header
