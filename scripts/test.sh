#!/usr/bin/env bash
# Set up (idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
# the run writes up to about 1.1 GB of model files at once (temporary folders, removed as tests pass)
echo "[test] free disk: $(df -h --output=avail "${TMPDIR:-/tmp}" | tail -1 | tr -d ' ') in ${TMPDIR:-/tmp}"
echo "[test] ruff check (pyproject.toml: line length 120, unused names, import order)"
"$ROOT/.venv/bin/ruff" check --quiet "$ROOT"
export QT_QPA_PLATFORM=offscreen
exec "$ROOT/.venv/bin/python" -m pytest -q "$@"
