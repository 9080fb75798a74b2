# Shared by scripts/serve and scripts/check: make .venv and install the project into it,
# at exactly the versions of the committed lock files (checked against their hashes).
#   requirements.lock      what the server runs on (also the container image's)
#   requirements-dev.lock  that, plus what the tests and linters need
#   requirements-bench.lock  that, plus the benchmark's chart (matplotlib)
# Re-installs only when a lock file or pyproject.toml changed, so repeated runs start quickly.
# To upgrade a dependency: see "Upgrading dependencies" in docs/OPERATIONS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${1:-}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version))" >&2; exit 1; }
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
case "$EXTRAS" in
  "") lock="requirements.lock" ;;
  dev) lock="requirements-dev.lock" ;;
  bench) lock="requirements-bench.lock" ;;
  *) echo "bootstrap: unknown extras '$EXTRAS' (none, dev or bench)" >&2; exit 2 ;;
esac
stamp=".venv/.installed${EXTRAS:+-$EXTRAS}"
want="$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
# The pinned browser files of GraphiQL, Swagger UI and ReDoc (hash-checked; quick when
# present). Without the network the server still starts and says which files are missing.
.venv/bin/python scripts/assets.py \
  || echo "warning: the playground's browser files could not be fetched (see above)" >&2
